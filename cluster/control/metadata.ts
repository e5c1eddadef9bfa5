/**
 * The cluster's metadata and the commands that change it: the state machine the control plane
 * replicates with Raft (docs/control-plane.md). Pure and deterministic: `applyCommand(metadata,
 * command)` returns the next metadata and the command's result, and every controller applying
 * the same committed commands in the same order holds the same metadata, version included.
 *
 * What it holds: the shards on the ring (their names place keys, protocol/ring.ts), and per
 * shard its members, its leader, its term (a shard's own epoch: it moves only when the shard
 * gets a new leader, so one shard's failover never touches another's logs) and its in-sync set
 * (the members that have applied every acks=all write the leader acknowledged; the leader first).
 * Nodes that joined without a shard wait in `unassigned`. The ring names the shards keys are
 * placed on; a migration (a shard added or removed) moves parts of it, one move per giver →
 * receiver pair, each through copy, cutover and done (docs/resharding.md).
 *
 * Invariants (checked by `checkMetadata`, asserted after every command in the tests):
 * - shard names are unique; a node belongs to at most one shard, or is unassigned;
 * - each shard's leader is one of its members, and its in-sync set is a non-empty subset of its
 *   members that starts with the leader;
 * - a shard's term only grows, by exactly one per election;
 * - `version` counts the commands that changed something, so it grows with every change.
 *
 * Why an election must pick an in-sync member: every acks=all write the old leader acknowledged
 * was applied by every member of the committed in-sync set, and the set shrinks only by a
 * command committed before the leader acknowledges anything with the smaller set. Any in-sync
 * member therefore holds every acknowledged write. `unclean` elections skip the rule and say so.
 */
import { ClusterError, type ClusterErrorCode } from '../../protocol/errors.ts';
import { REPLICAS_PER_SHARD_MAX, SHARDS_MAX, VNODES_MAX, VNODES_MIN } from '../../protocol/limits.ts';
import type { MoveState } from '../../protocol/placement.ts';

const SHARD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ShardMeta {
  readonly name: string;
  /** Every node of the shard, the leader among them. */
  readonly members: readonly string[];
  readonly leader: string;
  /** The shard's term: which leadership its log is under. Starts at 1. */
  readonly term: number;
  /** Members that have applied every write the leader acknowledged with acks=all; the leader first. */
  readonly inSync: readonly string[];
}

/** One giver → receiver part of a migration (docs/resharding.md). */
export interface MoveMeta {
  readonly giver: string;
  readonly receiver: string;
  /** copy: the receiver copies; cutover: the giver takes no writes to the moving keys; done: the receiver owns them. */
  readonly state: MoveState;
  /** The giver's sequence number up to which the receiver holds the moving keys durably (its progress, for a restart). */
  readonly through: number;
  /** The giver has deleted its copies of the moved keys. */
  readonly cleaned: boolean;
}

/** A change of the ring under way: a shard added or removed. One at a time. */
export interface MigrationMeta {
  /** The metadata version that started it. */
  readonly id: number;
  readonly kind: 'add' | 'remove';
  readonly shard: string;
  /** The ring once it is done. */
  readonly to: readonly string[];
  readonly moves: readonly MoveMeta[];
}

export interface Metadata {
  /** Changes applied so far; 0 before the bootstrap. */
  readonly version: number;
  readonly vnodes: number;
  readonly shards: readonly ShardMeta[];
  /** The shards on the ring: every shard, but one being added. */
  readonly ring: readonly string[];
  /** The migration under way, if any. */
  readonly migration: MigrationMeta | null;
  /** Nodes that joined and belong to no shard yet. */
  readonly unassigned: readonly string[];
}

export type Command =
  /** The first metadata, from cluster.toml: each shard's first member leads it at term 1. */
  | { type: 'bootstrap'; vnodes: number; shards: readonly { name: string; members: readonly string[] }[] }
  /**
   * `leader` leads `shard` at `expectTerm + 1`, if the shard is still at `expectTerm` (two
   * elections racing: one wins). The new in-sync set must be a subset of the old one that
   * starts with the leader; with `unclean`, the leader need not be in sync and the set is
   * the leader alone.
   */
  | { type: 'elect'; shard: string; leader: string; expectTerm: number; inSync: readonly string[]; unclean?: boolean }
  /** The leader of `term` sets its shard's in-sync set (it must still be the leader at that term). */
  | { type: 'set-in-sync'; shard: string; term: number; inSync: readonly string[] }
  /** A node started with an address no shard has: it waits, unassigned, until a shard names it. */
  | { type: 'register'; node: string }
  /** A new shard of unassigned nodes (the first leads); a migration moves its share of the ring to it. */
  | { type: 'shard-add'; shard: string; members: readonly string[] }
  /** A migration moves a shard's keys to the others; the shard leaves once it is done. */
  | { type: 'shard-remove'; shard: string }
  /**
   * A receiver's progress on a move (or `restart`: its progress is void, it copies afresh from a
   * snapshot), its state's next step, or a giver's cleanup done (docs/resharding.md). `term` is
   * the term of the shard taking the step (the giver's for `cleaned`, the receiver's otherwise):
   * a step from an earlier leadership, even of the same node, is refused.
   */
  | { type: 'move'; id: number; giver: string; receiver: string; step: MoveStep; term: number; through?: number };

export type MoveStep = 'progress' | 'restart' | 'cutover' | 'done' | 'cleaned';

export type CommandResult =
  | { ok: true; metadata: Metadata }
  | { ok: false; code: ClusterErrorCode; message: string };

export const EMPTY_METADATA: Metadata = Object.freeze({ version: 0, vnodes: 0, shards: Object.freeze([]), ring: Object.freeze([]), migration: null, unassigned: Object.freeze([]) });

/** The metadata after `command`, or why the command is refused (the metadata is then unchanged). */
export function applyCommand(metadata: Metadata, command: Command): CommandResult {
  const next = change(metadata, command);
  if ('code' in next) return { ok: false, ...next };
  const changed = { ...next, version: metadata.version + 1 };
  checkMetadata(changed);
  return { ok: true, metadata: Object.freeze(changed) };
}

type Refusal = { code: ClusterErrorCode; message: string };
type Change = Omit<Metadata, 'version'> | Refusal;

function change(m: Metadata, c: Command): Change {
  switch (c.type) {
    case 'bootstrap':
      return bootstrap(m, c);
    case 'elect':
      return elect(m, c);
    case 'set-in-sync':
      return setInSync(m, c);
    case 'register':
      return register(m, c.node);
    case 'shard-add':
      return shardAdd(m, c.shard, c.members);
    case 'shard-remove':
      return shardRemove(m, c.shard);
    case 'move':
      return move(m, c);
  }
}

function bootstrap(m: Metadata, c: Extract<Command, { type: 'bootstrap' }>): Change {
  if (m.shards.length > 0) return refuse('ALREADY_BOOTSTRAPPED', `the cluster's metadata exists (version ${m.version}); cluster.toml's shards apply only to a new cluster`);
  if (!Number.isInteger(c.vnodes) || c.vnodes < VNODES_MIN || c.vnodes > VNODES_MAX) return refuse('BAD_REQUEST', `vnodes must be ${VNODES_MIN}-${VNODES_MAX}, got ${c.vnodes}`);
  if (c.shards.length === 0 || c.shards.length > SHARDS_MAX) return refuse('BAD_REQUEST', `a cluster has 1-${SHARDS_MAX} shards, got ${c.shards.length}`);
  const seen = new Set<string>();
  const shards: ShardMeta[] = [];
  for (const s of c.shards) {
    if (s.members.length === 0 || s.members.length > REPLICAS_PER_SHARD_MAX + 1) return refuse('BAD_REQUEST', `shard ${JSON.stringify(s.name)} has ${s.members.length} members; 1-${REPLICAS_PER_SHARD_MAX + 1}`);
    for (const node of [s.name, ...s.members.map((a) => `node ${a}`)]) {
      if (seen.has(node)) return refuse('BAD_REQUEST', `${node.startsWith('node ') ? node : `shard ${JSON.stringify(node)}`} appears twice`);
      seen.add(node);
    }
    shards.push(Object.freeze({ name: s.name, members: Object.freeze([...s.members]), leader: s.members[0]!, term: 1, inSync: Object.freeze([...s.members]) }));
  }
  return { vnodes: c.vnodes, shards: Object.freeze(shards), ring: Object.freeze(shards.map((s) => s.name)), migration: null, unassigned: m.unassigned.filter((n) => !seen.has(`node ${n}`)) };
}

function elect(m: Metadata, c: Extract<Command, { type: 'elect' }>): Change {
  const shard = m.shards.find((s) => s.name === c.shard);
  if (!shard) return refuse('UNKNOWN_SHARD', `no shard ${JSON.stringify(c.shard)}`);
  if (shard.term !== c.expectTerm) return refuse('STALE_TERM', `shard ${shard.name} is at term ${shard.term}, not ${c.expectTerm}; its leader is ${shard.leader}`);
  if (!shard.members.includes(c.leader)) return refuse('BAD_REQUEST', `${c.leader} is not a member of shard ${shard.name} (${shard.members.join(', ')})`);
  let inSync: readonly string[];
  if (c.unclean) inSync = [c.leader];
  else {
    if (!shard.inSync.includes(c.leader)) {
      return refuse('NOT_IN_SYNC', `${c.leader} is not in shard ${shard.name}'s in-sync set (${shard.inSync.join(', ')}): it may lack acknowledged writes; an unclean election can lose them`);
    }
    if (c.inSync[0] !== c.leader || !c.inSync.every((n) => shard.inSync.includes(n)) || new Set(c.inSync).size !== c.inSync.length) {
      return refuse('BAD_REQUEST', `the new in-sync set must start with the new leader and be part of the old one (${shard.inSync.join(', ')}), got ${c.inSync.join(', ')}`);
    }
    inSync = c.inSync;
  }
  return withShard(m, { ...shard, leader: c.leader, term: shard.term + 1, inSync: Object.freeze([...inSync]) });
}

function setInSync(m: Metadata, c: Extract<Command, { type: 'set-in-sync' }>): Change {
  const shard = m.shards.find((s) => s.name === c.shard);
  if (!shard) return refuse('UNKNOWN_SHARD', `no shard ${JSON.stringify(c.shard)}`);
  if (shard.term !== c.term) return refuse('STALE_TERM', `shard ${shard.name} is at term ${shard.term}, not ${c.term}; its leader is ${shard.leader}`);
  if (c.inSync[0] !== shard.leader || !c.inSync.every((n) => shard.members.includes(n)) || new Set(c.inSync).size !== c.inSync.length) {
    return refuse('BAD_REQUEST', `an in-sync set starts with the leader ${shard.leader} and holds members of ${shard.name} once each, got ${c.inSync.join(', ')}`);
  }
  if (sameList(shard.inSync, c.inSync)) return refuse('NO_CHANGE', `shard ${shard.name}'s in-sync set is already ${c.inSync.join(', ')}`);
  return withShard(m, { ...shard, inSync: Object.freeze([...c.inSync]) });
}

function register(m: Metadata, node: string): Change {
  if (m.shards.some((s) => s.members.includes(node)) || m.unassigned.includes(node)) return refuse('NO_CHANGE', `${node} is already known`);
  return { ...m, unassigned: Object.freeze([...m.unassigned, node]) };
}

function shardAdd(m: Metadata, name: string, members: readonly string[]): Change {
  if (m.shards.length === 0) return refuse('BAD_REQUEST', 'the cluster is not bootstrapped yet');
  if (m.migration) return refuse('MIGRATION_UNDER_WAY', `a migration (${m.migration.kind} ${m.migration.shard}) is under way; one at a time`);
  if (!SHARD_NAME.test(name)) return refuse('BAD_REQUEST', `a shard name is 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  if (m.shards.some((s) => s.name === name)) return refuse('BAD_REQUEST', `shard ${JSON.stringify(name)} exists`);
  if (m.shards.length >= SHARDS_MAX) return refuse('BAD_REQUEST', `at most ${SHARDS_MAX} shards`);
  if (members.length === 0 || members.length > REPLICAS_PER_SHARD_MAX + 1 || new Set(members).size !== members.length) {
    return refuse('BAD_REQUEST', `a shard has 1-${REPLICAS_PER_SHARD_MAX + 1} distinct members, got ${members.join(', ') || 'none'}`);
  }
  const missing = members.filter((n) => !m.unassigned.includes(n));
  if (missing.length > 0) {
    return refuse('UNKNOWN_NODE', `${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} not joined as unassigned nodes; start ${missing.length === 1 ? 'it' : 'them'} first (cluster/node.ts --node ADDRESS)`);
  }
  const shard: ShardMeta = Object.freeze({ name, members: Object.freeze([...members]), leader: members[0]!, term: 1, inSync: Object.freeze([...members]) });
  const moves = m.ring.map((giver) => newMove(giver, name));
  return {
    ...m, shards: Object.freeze([...m.shards, shard]), unassigned: Object.freeze(m.unassigned.filter((n) => !members.includes(n))),
    migration: Object.freeze({ id: m.version + 1, kind: 'add' as const, shard: name, to: Object.freeze([...m.ring, name]), moves: Object.freeze(moves) }),
  };
}

function shardRemove(m: Metadata, name: string): Change {
  if (m.migration) return refuse('MIGRATION_UNDER_WAY', `a migration (${m.migration.kind} ${m.migration.shard}) is under way; one at a time`);
  if (!m.ring.includes(name)) return refuse('UNKNOWN_SHARD', `no shard ${JSON.stringify(name)} on the ring`);
  if (m.ring.length < 2) return refuse('BAD_REQUEST', `${name} is the only shard; a cluster keeps at least one`);
  const to = m.ring.filter((s) => s !== name);
  return { ...m, migration: Object.freeze({ id: m.version + 1, kind: 'remove' as const, shard: name, to: Object.freeze(to), moves: Object.freeze(to.map((receiver) => newMove(name, receiver))) }) };
}

const NEXT_STEP: Readonly<Record<'cutover' | 'done', MoveState>> = { cutover: 'copy', done: 'cutover' };

function move(m: Metadata, c: Extract<Command, { type: 'move' }>): Change {
  const migration = m.migration;
  if (!migration || migration.id !== c.id) return refuse('STALE_MIGRATION', `no migration ${c.id} under way${migration ? ` (migration ${migration.id} is)` : ''}`);
  const current = migration.moves.find((x) => x.giver === c.giver && x.receiver === c.receiver);
  if (!current) return refuse('BAD_REQUEST', `migration ${c.id} moves nothing from ${c.giver} to ${c.receiver}`);
  // Checked as the command applies, not as it is proposed: a loop of a deposed leadership cannot slip a step in.
  const stepper = m.shards.find((s) => s.name === (c.step === 'cleaned' ? c.giver : c.receiver))!;
  if (c.term !== stepper.term) return refuse('STALE_TERM', `a move's ${c.step} step comes from ${stepper.name}'s leader at its term ${stepper.term}, not from term ${c.term}`);
  let next: MoveMeta;
  if (c.step === 'progress') {
    if (current.state === 'done' || c.through === undefined || !Number.isSafeInteger(c.through) || c.through <= current.through) return refuse('NO_CHANGE', `move ${c.giver} → ${c.receiver} is ${current.state} through ${current.through}`);
    next = { ...current, through: c.through };
  } else if (c.step === 'restart') {
    // Not NO_CHANGE: a receiver goes on to delete its copies after a restart, and a done move's keys are the receiver's own.
    if (current.state === 'done') return refuse('STALE_MIGRATION', `move ${c.giver} → ${c.receiver} is done; it cannot start over`);
    if (current.through === 0) return refuse('NO_CHANGE', `move ${c.giver} → ${c.receiver} is ${current.state} through ${current.through}`);
    next = { ...current, through: 0 };
  } else if (c.step === 'cleaned') {
    if (current.state !== 'done' || current.cleaned) return refuse('NO_CHANGE', `move ${c.giver} → ${c.receiver} is ${current.state}${current.cleaned ? ', cleaned' : ''}`);
    next = { ...current, cleaned: true };
  } else {
    if (current.state !== NEXT_STEP[c.step]) return refuse('NO_CHANGE', `move ${c.giver} → ${c.receiver} is ${current.state}, not ${NEXT_STEP[c.step]}`);
    // `done` carries the giver's sequence number the receiver holds the keys through: record it.
    const through = c.step === 'done' && c.through !== undefined && Number.isSafeInteger(c.through) && c.through > current.through ? c.through : current.through;
    next = { ...current, state: c.step, through };
  }
  const moves = migration.moves.map((x) => (x === current ? Object.freeze(next) : x));
  if (!moves.every((x) => x.state === 'done' && x.cleaned)) return { ...m, migration: Object.freeze({ ...migration, moves: Object.freeze(moves) }) };
  // Every move done and cleaned: the ring is the new one, and a removed shard leaves.
  const removed = migration.kind === 'remove' ? m.shards.find((s) => s.name === migration.shard) : undefined;
  return {
    ...m, ring: migration.to, migration: null,
    shards: removed ? Object.freeze(m.shards.filter((s) => s !== removed)) : m.shards,
    unassigned: removed ? Object.freeze([...m.unassigned, ...removed.members]) : m.unassigned,
  };
}

function newMove(giver: string, receiver: string): MoveMeta {
  return Object.freeze({ giver, receiver, state: 'copy' as const, through: 0, cleaned: false });
}

function withShard(m: Metadata, shard: ShardMeta): Omit<Metadata, 'version'> {
  return { ...m, shards: Object.freeze(m.shards.map((s) => (s.name === shard.name ? Object.freeze(shard) : s))) };
}

function refuse(code: ClusterErrorCode, message: string): Refusal {
  return { code, message };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Asserts the invariants in the file comment; a failure is a bug in this file. */
export function checkMetadata(m: Metadata): void {
  const nodes = new Set<string>();
  const names = new Set<string>();
  const fail = (what: string): never => {
    throw new Error(`metadata invariant broken at version ${m.version}: ${what}`);
  };
  for (const s of m.shards) {
    if (names.has(s.name)) fail(`shard ${s.name} twice`);
    names.add(s.name);
    if (!s.members.includes(s.leader)) fail(`${s.name}'s leader ${s.leader} is not a member`);
    if (s.inSync[0] !== s.leader || !s.inSync.every((n) => s.members.includes(n))) fail(`${s.name}'s in-sync set ${s.inSync.join(',')} is not led by ${s.leader} within its members`);
    if (!Number.isSafeInteger(s.term) || s.term < 1) fail(`${s.name}'s term ${s.term}`);
    for (const n of s.members) {
      if (nodes.has(n)) fail(`node ${n} in two places`);
      nodes.add(n);
    }
  }
  for (const n of m.unassigned) {
    if (nodes.has(n)) fail(`node ${n} both assigned and not`);
    nodes.add(n);
  }
  if (m.shards.length > 0 && m.ring.length === 0) fail('shards but an empty ring');
  for (const r of m.ring) if (!names.has(r)) fail(`ring names unknown shard ${r}`);
  const adding = m.migration?.kind === 'add' ? m.migration.shard : undefined;
  for (const name of names) if (!m.ring.includes(name) && name !== adding) fail(`shard ${name} is off the ring with no migration adding it`);
  if (m.migration) {
    for (const x of m.migration.moves) if (!names.has(x.giver) || !names.has(x.receiver)) fail(`a move ${x.giver} → ${x.receiver} names an unknown shard`);
    for (const r of m.migration.to) if (!names.has(r)) fail(`migration's ring names unknown shard ${r}`);
  }
}

/** The shard `node` belongs to, and whether it leads it. */
export function locateNode(m: Metadata, node: string): { shard: ShardMeta; leads: boolean } | undefined {
  const shard = m.shards.find((s) => s.members.includes(node));
  return shard && { shard, leads: shard.leader === node };
}

/** A refused command as the error its proposer gets. */
export function refusalError(result: Extract<CommandResult, { ok: false }>): ClusterError {
  return new ClusterError(result.code, result.message);
}
