/**
 * The environment of the Raft script tests (testdata/*.txt): members of one group over a
 * hand-driven network, with a memory "storage" that makes each Ready durable at once.
 * Every command prints what happened, so a script reads as the behaviour it pins.
 *
 * Commands (ids are "1".."9"; flags are name=value):
 *   add-nodes N [voters=1,2,3] [prevote=true] [checkquorum=true] [election=10] [heartbeat=1] [seed=1]
 *       [appendbytes=B] [inflight=N] [uncommitted=B] [entrybytes=B]
 *     input lines "ID [log=T,T,…] [term=T] [vote=ID] [commit=I]" give a member a starting state.
 *   campaign ID                 starts an election now
 *   tick ID [n=1]               ticks; prints role changes
 *   tick-election ID            ticks until the member campaigns; prints how many ticks
 *   tick-heartbeat ID           ticks a leader heartbeatTicks times
 *   process-ready ID…           persists, sends, applies one Ready each; prints it
 *   deliver-msgs [ID…] [drop=true] [type=T]  delivers (or drops) queued messages to those members
 *   stabilize [ID…] [msgs-only=true]  process-ready and deliver-msgs until nothing moves
 *   step ID                     input lines: messages to step into ID ("2->1 Vote term=3 last=5/2")
 *   propose ID DATA [size=N] / propose-membership ID add|remove NODE / read-index ID CTX
 *   transfer-leadership ID to=ID / report-unreachable ID to=ID
 *   compact ID INDEX            takes a snapshot at INDEX and compacts
 *   restart ID                  rebuilds the member from its storage (volatile state lost)
 *   partition A,B C,D / isolate ID / cut A->B / heal
 *   status ID… / raft-log ID / log-terms ID… / timeouts ID samples=N / race-timeouts n=N rounds=R
 */
import { seededRandom } from '../../engine/index.ts';
import { describeEntry, describeMessage } from '../../cluster/raft/describe.ts';
import {
  EMPTY_HARD_STATE, EntryType, MESSAGE_TYPE_NAMES, MessageType, message, NONE, RaftNode, validateRaftLimits,
  type Entry, type HardState, type Message, type Ready, type Snapshot,
} from '../../cluster/raft/index.ts';
import type { Case } from '../helpers/datadriven.ts';

interface Member {
  node: RaftNode;
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
  applied: Entry[];
  seed: number;
  limits: ReturnType<typeof validateRaftLimits>;
}

const encoder = new TextEncoder();

export class InteractionEnv {
  private readonly members = new Map<string, Member>();
  private queue: Message[] = [];
  private readonly blocked = new Set<string>();

  handle(c: Case): string {
    const out: string[] = [];
    const ids = c.args;
    const id = ids[0] ?? '';
    switch (c.command) {
      case 'add-nodes': return this.addNodes(c);
      case 'campaign': this.member(id).node.campaign(); return this.roleLine(id);
      case 'tick': return this.tick(id, Number(c.named.get('n') ?? 1));
      case 'tick-election': return this.tickElection(id);
      case 'tick-heartbeat': return this.tick(id, this.member(id).limits.heartbeatTicks);
      case 'process-ready': for (const i of ids) out.push(...this.processReady(i)); return out.join('\n') || 'no ready';
      case 'deliver-msgs': return this.deliver(new Set(ids), c.named.get('drop') === 'true', c.named.get('type')).join('\n') || 'no messages';
      case 'stabilize': return this.stabilize(new Set(ids.length > 0 ? ids : this.members.keys()), c.named.get('msgs-only') === 'true').join('\n') || 'nothing to do';
      case 'step': for (const line of c.input) { this.member(id).node.step(parseMessage(line)); } return this.roleLine(id);
      case 'propose': return this.request(() => `proposed at ${JSON.stringify(this.member(id).node.propose(encoder.encode((ids[1] ?? '').padEnd(Number(c.named.get('size') ?? 0), '.'))))}`);
      case 'propose-membership': return this.request(() => `proposed at ${JSON.stringify(this.member(id).node.proposeMembership({ type: ids[1] as 'add' | 'remove', node: ids[2] ?? '' }))}`);
      case 'read-index': return this.request(() => { this.member(id).node.readIndex(ids[1] ?? ''); return 'ok'; });
      case 'transfer-leadership': return this.request(() => { this.member(id).node.transferLeadership(c.named.get('to') ?? ''); return 'ok'; });
      case 'report-unreachable': this.member(id).node.reportUnreachable(c.named.get('to') ?? ''); return this.status(id);
      case 'compact': return this.compact(id, Number(ids[1]));
      case 'restart': return this.restart(id);
      case 'partition': return this.partition(ids.map((group) => group.split(',')));
      case 'isolate': return this.partition([[id], [...this.members.keys()].filter((m) => m !== id)]);
      case 'cut': this.blocked.add(id); return `cut ${id}`;
      case 'heal': this.blocked.clear(); return 'healed';
      case 'status': return ids.map((i) => this.status(i)).join('\n');
      case 'raft-log': return this.raftLog(id);
      case 'log-terms': return ids.map((i) => this.logTerms(i)).join('\n');
      case 'race-timeouts': return this.raceTimeouts(Number(c.named.get('n') ?? 5), Number(c.named.get('rounds') ?? 1000));
      case 'timeouts': return this.timeouts(id, Number(c.named.get('samples') ?? 100));
      default: throw new Error(`line ${c.line}: unknown command ${c.command}`);
    }
  }

  private member(id: string): Member {
    const member = this.members.get(id);
    if (!member) throw new Error(`no member ${JSON.stringify(id)}`);
    return member;
  }

  private addNodes(c: Case): string {
    const count = Number(c.args[0]);
    const flag = (name: string, fallback: string) => c.named.get(name) ?? fallback;
    const first = this.members.size + 1;
    const voters = flag('voters', Array.from({ length: count }, (_, k) => String(first + k)).join(',')).split(',').filter(Boolean);
    const limits = validateRaftLimits({
      preVote: flag('prevote', 'false') === 'true', checkQuorum: flag('checkquorum', 'false') === 'true',
      electionTicks: Number(flag('election', '10')), heartbeatTicks: Number(flag('heartbeat', '1')),
      appendBytesMax: Number(flag('appendbytes', '1048576')), inflightAppendsMax: Number(flag('inflight', '256')),
      uncommittedBytesMax: Number(flag('uncommitted', '4194304')), entryBytesMax: Number(flag('entrybytes', '1048576')),
    });
    const starts = new Map(c.input.map((line) => { const [who, ...rest] = line.trim().split(/\s+/); return [who!, new Map(rest.map((w) => w.split('=') as [string, string]))]; }));
    const out: string[] = [];
    for (let k = 0; k < count; k++) {
      const id = String(first + k);
      const start = starts.get(id) ?? new Map<string, string>();
      const entries = (start.get('log') ?? '').split(',').filter(Boolean).map((t, i) => ({ index: i + 1, term: Number(t), type: EntryType.Normal, data: new Uint8Array(0) }));
      const hardState = { term: Number(start.get('term') ?? entries.at(-1)?.term ?? 0), vote: start.get('vote') ?? NONE, commit: Number(start.get('commit') ?? 0) };
      const snapshot = { index: 0, term: 0, voters, data: new Uint8Array(0) };
      const seed = Number(flag('seed', '1')) * 100 + first + k;
      const member: Member = { node: undefined as unknown as RaftNode, hardState, snapshot, entries, applied: [], seed, limits };
      member.node = new RaftNode({ id, limits, random: seededRandom(seed), state: { hardState, snapshot, entries } });
      this.members.set(id, member);
      out.push(this.status(id));
    }
    return out.join('\n');
  }

  private roleLine(id: string): string {
    const s = this.member(id).node.status();
    return `${id}: ${s.role} term=${s.term}${s.leader ? ` leader=${s.leader}` : ''}`;
  }

  private tick(id: string, n: number): string {
    for (let k = 0; k < n; k++) this.member(id).node.tick();
    return this.roleLine(id);
  }

  private tickElection(id: string): string {
    const node = this.member(id).node;
    const before = node.status();
    for (let k = 1; k <= 1000; k++) {
      node.tick();
      const after = node.status();
      if (after.role !== before.role || after.term !== before.term) return `${this.roleLine(id)} after ${k} ticks`;
    }
    return `${this.roleLine(id)}: no campaign in 1000 ticks`;
  }

  private request(run: () => string): string {
    try {
      return run();
    } catch (error) {
      const e = error as { code?: string; message: string; leaderHint?: string };
      return `error ${e.code}${e.leaderHint ? ` (leader ${e.leaderHint})` : ''}: ${e.message}`;
    }
  }

  private processReady(id: string): string[] {
    const member = this.member(id);
    if (!member.node.hasReady()) return [];
    const rd = member.node.ready();
    const out = [`> ${id} ready${rd.mustSync ? '' : ' (no sync)'}`, ...describeReady(rd)];
    this.persist(member, rd);
    this.queue.push(...rd.messages);
    if (rd.snapshot) member.applied = [];
    member.applied.push(...rd.committedEntries);
    member.node.advance();
    return out;
  }

  private persist(member: Member, rd: Ready): void {
    if (rd.snapshot) {
      member.snapshot = rd.snapshot;
      member.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      member.entries = member.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState) member.hardState = rd.hardState;
  }

  private deliver(to: ReadonlySet<string>, drop: boolean, type: string | undefined): string[] {
    const out: string[] = [];
    const keep: Message[] = [];
    for (const m of this.queue) {
      const chosen = (to.size === 0 || to.has(m.to)) && (type === undefined || MESSAGE_TYPE_NAMES[m.type] === type);
      if (!chosen) { keep.push(m); continue; }
      if (drop || this.blocked.has(`${m.from}->${m.to}`) || !this.members.has(m.to)) { out.push(`dropped: ${describeMessage(m)}`); continue; }
      out.push(describeMessage(m));
      this.member(m.to).node.step(m);
    }
    this.queue = keep;
    return out;
  }

  private stabilize(ids: ReadonlySet<string>, messagesOnly: boolean): string[] {
    const out: string[] = [];
    for (let round = 0; round < 100; round++) {
      const readies = [...ids].flatMap((id) => this.processReady(id));
      const delivered = this.deliver(ids, false, undefined);
      if (readies.length === 0 && delivered.length === 0) return out;
      out.push(...(messagesOnly ? [] : readies), ...delivered);
    }
    throw new Error('stabilize: no quiescence in 100 rounds');
  }

  private compact(id: string, index: number): string {
    const member = this.member(id);
    const snapshot = member.node.createSnapshot(index, encoder.encode(`snapshot@${index}`));
    member.snapshot = snapshot;
    member.entries = member.entries.filter((e) => e.index > index);
    member.node.compact(snapshot);
    return `${id}: snapshot ${snapshot.index}/${snapshot.term} voters=[${snapshot.voters.join(' ')}], log from ${member.node.log.firstIndex()}`;
  }

  private restart(id: string): string {
    const member = this.member(id);
    member.seed += 1000;
    member.node = new RaftNode({ id, limits: member.limits, random: seededRandom(member.seed), state: { hardState: member.hardState, snapshot: member.snapshot, entries: member.entries } });
    member.applied = [];
    return this.status(id);
  }

  private partition(groups: string[][]): string {
    this.blocked.clear();
    for (const a of groups) for (const b of groups) {
      if (a === b) continue;
      for (const x of a) for (const y of b) this.blocked.add(`${x}->${y}`);
    }
    return groups.map((g) => g.join(' ')).join(' | ');
  }

  private status(id: string): string {
    const s = this.member(id).node.status();
    const progress = Object.entries(s.progress).map(([m, p]) => `\n  ${m}: ${p}`).join('');
    return `${id}: ${s.role} term=${s.term} vote=${s.vote || '-'} leader=${s.leader || '-'} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} voters=[${s.voters.join(' ')}]${s.snapshotIndex ? ` snapshot=${s.snapshotIndex}` : ''}${progress}`;
  }

  private raftLog(id: string): string {
    const log = this.member(id).node.log;
    const lines = [`snapshot ${log.snapshot.index}/${log.snapshot.term}, commit ${log.committed}`];
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) lines.push(describeEntry(log.entry(i) as Entry));
    return lines.join('\n');
  }

  private logTerms(id: string): string {
    const log = this.member(id).node.log;
    const terms: number[] = [];
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) terms.push(log.term(i)!);
    return `${id}: ${terms.join(' ') || '(empty)'}${log.snapshot.index > 0 ? ` after snapshot ${log.snapshot.index}/${log.snapshot.term}` : ''}, commit ${log.committed}`;
  }

  /** §5.2: how often a single member of `n` fresh followers times out strictly first. */
  private raceTimeouts(n: number, rounds: number): string {
    const limits = validateRaftLimits();
    let alone = 0;
    for (let round = 0; round < rounds; round++) {
      const timeouts = Array.from({ length: n }, (_, k) => new RaftNode({ id: String(k + 1), limits, random: seededRandom(round * 131 + k), state: { hardState: EMPTY_HARD_STATE, snapshot: { index: 0, term: 0, voters: [], data: new Uint8Array(0) }, entries: [] } }).randomizedElectionTicks);
      const first = Math.min(...timeouts);
      if (timeouts.filter((t) => t === first).length === 1) alone++;
    }
    return `a single member timed out first in ${alone} of ${rounds} rounds`;
  }

  private timeouts(id: string, samples: number): string {
    const member = this.member(id);
    const seen: number[] = [];
    for (let k = 0; k < samples; k++) {
      const node = new RaftNode({ id, limits: member.limits, random: seededRandom(member.seed * 7919 + k), state: { hardState: EMPTY_HARD_STATE, snapshot: member.snapshot, entries: [] } });
      seen.push(node.randomizedElectionTicks);
    }
    const distinct = new Set(seen).size;
    return `min=${Math.min(...seen)} max=${Math.max(...seen)} distinct=${distinct} (election=${member.limits.electionTicks})`;
  }
}

export function describeReady(rd: Ready): string[] {
  const out: string[] = [];
  if (rd.softState) out.push(`  soft: ${rd.softState.role} term=${rd.softState.term} leader=${rd.softState.leader || '-'}`);
  if (rd.hardState) out.push(`  hard: term=${rd.hardState.term} vote=${rd.hardState.vote || '-'} commit=${rd.hardState.commit}`);
  if (rd.snapshot) out.push(`  snapshot: ${rd.snapshot.index}/${rd.snapshot.term} voters=[${rd.snapshot.voters.join(' ')}]`);
  if (rd.entries.length > 0) out.push(`  entries: ${rd.entries.map(describeEntry).join(', ')}`);
  if (rd.committedEntries.length > 0) out.push(`  apply: ${rd.committedEntries.map(describeEntry).join(', ')}`);
  for (const rs of rd.readStates) out.push(`  read-state: ${rs.context} at ${rs.index}`);
  for (const m of rd.messages) out.push(`  send: ${describeMessage(m)}`);
  return out;
}

/** "2->1 Vote term=3 last=5/2", "1->2 Append term=2 prev=1/1 commit=1 entries=2/2,3/2", "1->2 Snapshot term=2 snapshot=5/2" … */
export function parseMessage(line: string): Message {
  const [route, type, ...fields] = line.trim().split(/\s+/);
  const [from, to] = route!.split('->');
  const typeNumber = Object.entries(MESSAGE_TYPE_NAMES).find(([, name]) => name === type)?.[0];
  if (!typeNumber) throw new Error(`unknown message type ${type}`);
  const named = new Map(fields.filter((f) => f.includes('=')).map((f) => f.split('=') as [string, string]));
  const pair = (text: string | undefined) => (text ?? '0/0').split('/').map(Number) as [number, number];
  const [index, logTerm] = pair(named.get('last') ?? named.get('prev') ?? named.get('index'));
  const entries = (named.get('entries') ?? '').split(',').filter(Boolean).map((e) => {
    const [i, t] = pair(e);
    return { index: i, term: t, type: EntryType.Normal, data: new Uint8Array(0) };
  });
  const snapshot = named.has('snapshot') ? { index: pair(named.get('snapshot'))[0], term: pair(named.get('snapshot'))[1], voters: [from!, to!].sort(), data: new Uint8Array(0) } : undefined;
  return message({
    type: Number(typeNumber) as MessageType, from: from!, to: to!, term: Number(named.get('term') ?? 0), index, logTerm, entries,
    commit: Number(named.get('commit') ?? 0), reject: fields.includes('rejected'), context: named.get('context') ?? '', ...(snapshot ? { snapshot } : {}),
  });
}
