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
 * Nodes that joined without a shard wait in `unassigned`.
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

export interface Metadata {
  /** Changes applied so far; 0 before the bootstrap. */
  readonly version: number;
  readonly vnodes: number;
  readonly shards: readonly ShardMeta[];
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
  | { type: 'register'; node: string };

export type CommandResult =
  | { ok: true; metadata: Metadata }
  | { ok: false; code: ClusterErrorCode; message: string };

export const EMPTY_METADATA: Metadata = Object.freeze({ version: 0, vnodes: 0, shards: Object.freeze([]), unassigned: Object.freeze([]) });

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
  }
}

function bootstrap(m: Metadata, c: Extract<Command, { type: 'bootstrap' }>): Change {
  if (m.version > 0) return refuse('ALREADY_BOOTSTRAPPED', `the cluster's metadata exists (version ${m.version}); cluster.toml's shards apply only to a new cluster`);
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
  return { vnodes: c.vnodes, shards: Object.freeze(shards), unassigned: m.unassigned.filter((n) => !seen.has(`node ${n}`)) };
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
