/**
 * The Raft core's public face (after etcd raft's RawNode): feed it ticks, messages and
 * requests; take what it asks for with `ready()`, do it, and call `advance()`.
 *
 * @example
 * ```ts
 * const node = new RaftNode({ id: 'n1', random: seededRandom(1), state: storage.initialState() });
 * node.tick();                       // from the driver's clock
 * node.step(messageFromPeer);        // from the transport
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   await storage.save(rd);          // 1. persist (fsync when rd.mustSync)
 *   transport.send(rd.messages);     // 2. only then send
 *   apply(rd.snapshot, rd.committedEntries, rd.readStates); // 3. apply
 *   node.advance();                  // 4.
 * }
 * ```
 *
 * Contract:
 * - One Ready at a time: `ready()` again before `advance()` is an assertion failure.
 *   `hasReady()` is false while one is out.
 * - Between `ready()` and `advance()` the caller may keep calling `tick`, `step` and the
 *   requests; what they produce waits for the next Ready.
 * - Nothing in a Ready's `messages` may leave before that Ready's state is durable: votes and
 *   acknowledgements are promises about persisted state (raft-group.ts enforces the order).
 * - The leader counts its own log toward a commit only up to what `advance()` reported
 *   persisted, so an entry is never committed on the strength of an unsynced local copy.
 *
 * Requests throw RaftError: NOT_LEADER (with `leaderHint`), PROPOSAL_DROPPED,
 * MEMBERSHIP_CHANGE_PENDING, OVERLOADED, INVALID_ARGUMENT.
 */
import { validateRaftLimits, type RaftLimits } from './raft-config.ts';
import { raftAssert } from './raft-errors.ts';
import { bcastAppend, maybeCommit } from './raft-leader.ts';
import { Raft, type RaftInitialState } from './raft.ts';
import type { HardState, MembershipChange, Message, NodeId, Ready, Role, Snapshot, SoftState } from './raft-types.ts';

export interface RaftNodeOptions {
  id: NodeId;
  /** Validated limits (validateRaftLimits); the defaults if omitted. */
  limits?: Readonly<RaftLimits>;
  /**
   * A seeded generator in [0, 1) for election timeouts (seededRandom from engine/). Seed it
   * differently on each member and each start (the node may use a seed from crypto), or
   * members time out in step and split votes.
   */
  random: () => number;
  state: RaftInitialState;
}

/** Read access to the log, for status pages and the simulator's invariant checks. */
export interface RaftLogView {
  readonly snapshot: Snapshot;
  readonly committed: number;
  readonly applied: number;
  firstIndex(): number;
  lastIndex(): number;
  term(index: number): number | undefined;
  entry(index: number): { readonly index: number; readonly term: number; readonly type: number; readonly data: Uint8Array } | undefined;
}

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  leader: NodeId;
  vote: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  voters: readonly NodeId[];
  leadTransferee: NodeId;
  /** Leader only: each member's replication state. */
  progress: Record<NodeId, string>;
}

interface InFlightReady {
  lastEntry: { index: number; term: number } | undefined;
  snapshot: Snapshot | undefined;
  applyingTo: number;
}

export class RaftNode {
  private readonly raft: Raft;
  private previousSoft: SoftState;
  private previousHard: HardState;
  private inFlight: InFlightReady | undefined;

  constructor(options: RaftNodeOptions) {
    const limits = options.limits ?? validateRaftLimits();
    this.raft = new Raft({ id: options.id, limits, random: options.random }, options.state);
    this.previousSoft = this.raft.softState();
    this.previousHard = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /** Role, leader and term now (cheap; status() has the rest). */
  get softState(): SoftState {
    return this.raft.softState();
  }

  get log(): RaftLogView {
    return this.raft.log;
  }

  tick(): void {
    this.raft.tick();
  }

  /**
   * Campaigns now instead of waiting for the election timeout (a pre-vote first when
   * configured). Does nothing on a leader or on a member that is not a voter.
   */
  campaign(): void {
    if (this.raft.role !== 'leader' && this.raft.promotable()) this.raft.campaign(this.raft.limits.preVote ? 'pre-vote' : 'election');
  }

  /** A message from a peer; BAD_MESSAGE if it is not addressed to this member. */
  step(message: Message): void {
    this.raft.step(message);
  }

  /** Appends `data` to the leader's log; returns where. Applied later, via committed entries. */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.raft.propose(data);
  }

  /** Adds or removes one voter; takes effect on each member as the entry reaches its log. */
  proposeMembership(change: MembershipChange): { index: number; term: number } {
    return this.raft.proposeMembership(change);
  }

  /** Starts a linearizable read; a ReadState with `context` comes back in a later Ready. */
  readIndex(context: string): void {
    this.raft.readIndex(context);
  }

  /** Hands leadership to `to` once its log is caught up (TimeoutNow); abandoned after an election timeout. */
  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  /** The transport could not reach `to`: stop streaming to it and probe instead. */
  reportUnreachable(to: NodeId): void {
    const progress = this.raft.role === 'leader' ? this.raft.progress.get(to) : undefined;
    if (progress?.state === 'replicate') progress.becomeProbe();
  }

  hasReady(): boolean {
    if (this.inFlight) return false;
    const r = this.raft;
    return (
      r.messages.length > 0 || r.readStates.length > 0 || r.log.stableIndex < r.log.lastIndex() || r.log.pendingSnapshot !== undefined ||
      r.log.hasNextCommittedEntries() || !sameSoft(r.softState(), this.previousSoft) || !sameHard(r.hardState(), this.previousHard)
    );
  }

  ready(): Ready {
    raftAssert(!this.inFlight, 'raft node: ready() called again before advance()');
    const r = this.raft;
    const soft = r.softState();
    const hard = r.hardState();
    const entries = r.log.unstableEntries();
    const snapshot = r.log.pendingSnapshot;
    const committedEntries = r.log.nextCommittedEntries();
    const ready: Ready = {
      ...(sameSoft(soft, this.previousSoft) ? {} : { softState: soft }),
      ...(sameHard(hard, this.previousHard) ? {} : { hardState: hard }),
      entries,
      ...(snapshot ? { snapshot } : {}),
      committedEntries,
      messages: r.messages,
      readStates: r.readStates,
      mustSync: entries.length > 0 || snapshot !== undefined || hard.term !== this.previousHard.term || hard.vote !== this.previousHard.vote,
    };
    r.messages = [];
    r.readStates = [];
    this.previousSoft = soft;
    this.previousHard = hard;
    const last = entries[entries.length - 1];
    const applyingTo = Math.max(r.log.applying, snapshot?.index ?? 0, committedEntries[committedEntries.length - 1]?.index ?? 0);
    r.log.applying = applyingTo;
    this.inFlight = { lastEntry: last && { index: last.index, term: last.term }, snapshot, applyingTo };
    return ready;
  }

  /** The last Ready is persisted, sent and applied. */
  advance(): void {
    const done = this.inFlight;
    raftAssert(done, 'raft node: advance() without a ready()');
    this.inFlight = undefined;
    const r = this.raft;
    if (done.snapshot && r.log.pendingSnapshot === done.snapshot) r.log.pendingSnapshot = undefined;
    if (done.lastEntry) r.log.stableTo(done.lastEntry.index, done.lastEntry.term);
    if (done.applyingTo > r.log.applied) r.log.appliedTo(done.applyingTo);
    if (r.role === 'leader' && r.progress.get(r.id)!.maybeUpdate(r.log.stableIndex) && maybeCommit(r)) bcastAppend(r);
  }

  /**
   * The snapshot to store for state-machine `data` taken at `index` (at most the applied
   * index): its term and the voters in effect there come from the log.
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    const log = this.raft.log;
    raftAssert(index <= log.applied && index >= log.snapshot.index, () => `raft node: snapshot at ${index} outside [${log.snapshot.index}, applied ${log.applied}]`);
    return { index, term: log.term(index)!, voters: [...log.votersAt(index)], data };
  }

  /** The storage holds `snapshot` durably: drop the entries it covers from memory. */
  compact(snapshot: Snapshot): void {
    this.raft.log.compact(snapshot);
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress: Record<NodeId, string> = {};
    if (r.role === 'leader') for (const [member, p] of [...r.progress].sort(([a], [b]) => (a < b ? -1 : 1))) progress[member] = p.describe();
    return {
      id: r.id, role: r.role, term: r.term, leader: r.lead, vote: r.vote, commit: r.log.committed, applied: r.log.applied,
      lastIndex: r.log.lastIndex(), snapshotIndex: r.log.snapshot.index, voters: r.voters, leadTransferee: r.leadTransferee, progress,
    };
  }

  /** Randomized election timeout now in force (for tests of §5.2's randomization). */
  get randomizedElectionTicks(): number {
    return this.raft.randomizedElectionTicks;
  }
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader && a.term === b.term;
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
