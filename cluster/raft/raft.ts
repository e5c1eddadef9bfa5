/**
 * The Raft state machine of one member (Ongaro & Ousterhout, "In Search of an Understandable
 * Consensus Algorithm", and Ongaro's dissertation), in the shape of etcd raft's raft.go:
 * messages and ticks go in, messages and log changes accumulate for the next Ready. No I/O, no
 * clock, no randomness but the seeded generator it is given. Internal: RaftNode (raft-node.ts)
 * is the public face.
 *
 * Roles are step functions (raft-leader.ts, raft-follower.ts); this file holds the state, the
 * term rules every role shares (§5.1), voting (§5.2, §5.4.1, PreVote, leases), role changes,
 * elections, and the leader-only requests (proposals, membership changes, reads, transfer).
 *
 * Configuration (§4.1 of the dissertation): a member uses the newest Membership entry in its
 * log, committed or not; a truncation that removes it reverts to the one before. The leader
 * accepts a change only when the previous one is committed and it has committed an entry of
 * its own term (the fix to the single-server change bug Ongaro posted in 2015).
 *
 * Invariants (asserted): the term never decreases; at most one vote per term; a leader's log
 * is never truncated; the commit index never decreases (raft-log.ts).
 */
import { applyMembershipChange, encodeMembership } from './membership.ts';
import { Progress } from './progress.ts';
import { quorum } from './quorum.ts';
import type { RaftConfig, RaftLimits } from './raft-config.ts';
import { RaftError, raftAssert } from './raft-errors.ts';
import { bcastAppend, bcastHeartbeat, maybeCommit, sendAppend, sendTimeoutNow, stepLeader, tickLeader } from './raft-leader.ts';
import { stepCandidate, stepFollower } from './raft-follower.ts';
import { RaftLog } from './raft-log.ts';
import { ReadOnly } from './read-only.ts';
import {
  CAMPAIGN_TRANSFER, EntryType, message, MessageType, NONE,
  type Entry, type HardState, type MembershipChange, type Message, type NodeId, type ReadState, type Role, type Snapshot, type SoftState,
} from './raft-types.ts';

/** What a member starts from: its durable state (raft-storage.ts loads it). */
export interface RaftInitialState {
  hardState: HardState;
  snapshot: Snapshot;
  entries: readonly Entry[];
}

export type VoteTally = 'won' | 'lost' | 'pending';

export class Raft {
  readonly id: NodeId;
  readonly limits: Readonly<RaftLimits>;
  private readonly random: () => number;
  term: number;
  vote: NodeId;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  voters: readonly NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  messages: Message[] = [];
  readStates: ReadState[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTicks = 0;
  leadTransferee: NodeId = NONE;
  /** Leader: index of a Membership entry not yet committed (0: none). */
  pendingMembershipIndex = 0;
  readonly readOnly = new ReadOnly();
  /** Leader: reads that arrived before it committed an entry of its term. */
  pendingReadContexts: string[] = [];
  /** Leader: data bytes it appended that are not committed yet. */
  uncommittedBytes = 0;

  constructor(config: RaftConfig, state: RaftInitialState) {
    raftAssert(config.id.length > 0, 'raft: a member needs a non-empty id');
    this.id = config.id;
    this.limits = config.limits;
    this.random = config.random;
    this.term = state.hardState.term;
    this.vote = state.hardState.vote;
    this.log = new RaftLog(state.snapshot, state.entries, state.hardState.commit);
    this.refreshVoters();
    this.becomeFollower(this.term, NONE);
  }

  softState(): SoftState {
    return { role: this.role, leader: this.lead, term: this.term };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  send(fields: Pick<Message, 'type' | 'to'> & Partial<Message>): void {
    this.messages.push(message({ from: this.id, term: this.term, ...fields }));
  }

  promotable(): boolean {
    return this.voters.includes(this.id) && this.log.pendingSnapshot === undefined;
  }

  // ——— Input ———

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id || m.from === NONE) {
      throw new RaftError('BAD_MESSAGE', `raft ${this.id}: message from ${JSON.stringify(m.from)} to ${JSON.stringify(m.to)} is not for this member`);
    }
    if (m.term > this.term && !this.onHigherTerm(m)) return;
    if (m.term < this.term) return this.onLowerTerm(m);
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) return this.handleVoteRequest(m);
    if (this.role === 'leader') stepLeader(this, m);
    else if (this.role === 'follower') stepFollower(this, m);
    else stepCandidate(this, m);
  }

  /** §5.1: a higher term makes this member a follower, except where PreVote and leases say otherwise. */
  private onHigherTerm(m: Message): boolean {
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      // A member that heard from a leader within the election timeout ignores campaigns
      // (dissertation §4.2.3), unless a leadership transfer started them.
      const inLease = this.limits.checkQuorum && this.lead !== NONE && this.electionElapsed < this.limits.electionTicks;
      if (inLease && m.context !== CAMPAIGN_TRANSFER) return false;
    }
    // A pre-vote asks about a future term; neither it nor a grant of it changes ours.
    if (m.type === MessageType.PreVote || (m.type === MessageType.PreVoteResponse && !m.reject)) return true;
    const fromLeader = m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot;
    this.becomeFollower(m.term, fromLeader ? m.from : NONE);
    return true;
  }

  private onLowerTerm(m: Message): void {
    if ((this.limits.checkQuorum || this.limits.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.Append)) {
      // A leader cut off by a partition learns the newer term from this answer and steps
      // down; without it, a member whose pre-votes it keeps refusing could never be heard.
      this.send({ type: MessageType.AppendResponse, to: m.from });
    } else if (m.type === MessageType.PreVote) {
      this.send({ type: MessageType.PreVoteResponse, to: m.from, reject: true });
    }
  }

  /** §5.2, §5.4.1: one vote per term, only for a log at least as up-to-date as ours. */
  private handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const responseType = pre ? MessageType.PreVoteResponse : MessageType.VoteResponse;
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type: responseType, to: m.from, term: m.term });
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: responseType, to: m.from, reject: true });
    }
  }

  tick(): void {
    if (this.role === 'leader') return tickLeader(this);
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      this.campaign(this.limits.preVote ? 'pre-vote' : 'election');
    }
  }

  // ——— Roles ———

  private reset(term: number): void {
    raftAssert(term >= this.term, () => `raft ${this.id}: term going back from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTicks = this.limits.electionTicks + Math.floor(this.random() * this.limits.electionTicks);
    this.leadTransferee = NONE;
    this.votes.clear();
    this.progress.clear();
    this.readOnly.clear();
    this.pendingReadContexts = [];
    this.pendingMembershipIndex = 0;
    this.uncommittedBytes = 0;
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    raftAssert(this.role !== 'leader', () => `raft ${this.id}: leader becoming pre-candidate`);
    // Term and vote stay: a pre-vote changes nothing durable.
    this.votes.clear();
    this.lead = NONE;
    this.role = 'pre-candidate';
  }

  private becomeCandidate(): void {
    raftAssert(this.role !== 'leader', () => `raft ${this.id}: leader becoming candidate`);
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    raftAssert(this.role === 'candidate', () => `raft ${this.id}: ${this.role} becoming leader`);
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    const next = this.log.lastIndex() + 1;
    for (const voter of new Set([...this.voters, this.id])) this.progress.set(voter, this.newProgress(next));
    const own = this.progress.get(this.id)!;
    own.match = this.log.stableIndex;
    own.becomeReplicate();
    own.recentActive = true;
    const membershipIndex = this.log.lastMembershipIndex();
    if (membershipIndex > this.log.committed) this.pendingMembershipIndex = membershipIndex;
    // The no-op of §8: committing it commits every earlier entry (§5.4.2) and lets reads start.
    this.appendEntries([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
    bcastAppend(this);
  }

  newProgress(next: number): Progress {
    return new Progress(next, this.limits.inflightAppendsMax, this.limits.inflightBytesMax);
  }

  campaign(kind: 'pre-vote' | 'election', transfer = false): void {
    if (kind === 'pre-vote') this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = kind === 'pre-vote' ? this.term + 1 : this.term;
    if (this.poll(this.id, true) === 'won') return this.onElectionWon();
    for (const voter of this.voters) {
      if (voter === this.id) continue;
      this.send({
        type: kind === 'pre-vote' ? MessageType.PreVote : MessageType.Vote, to: voter, term: voteTerm,
        index: this.log.lastIndex(), logTerm: this.log.lastTerm(), context: transfer ? CAMPAIGN_TRANSFER : '',
      });
    }
  }

  onElectionWon(): void {
    if (this.role === 'pre-candidate') this.campaign('election');
    else this.becomeLeader();
  }

  /** Records a vote and tallies the current configuration's voters. */
  poll(from: NodeId, granted: boolean): VoteTally {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const voter of this.voters) {
      const vote = this.votes.get(voter);
      if (vote === true) yes++;
      else if (vote === false) no++;
    }
    const needed = quorum(this.voters.length);
    return yes >= needed ? 'won' : no > this.voters.length - needed ? 'lost' : 'pending';
  }

  // ——— Configuration ———

  /** Adopts the configuration of the newest Membership entry in the log (or the snapshot's). */
  refreshVoters(): void {
    const voters = this.log.votersAt(this.log.lastIndex());
    if (voters !== this.voters) this.applyVoters(voters);
  }

  private applyVoters(voters: readonly NodeId[]): void {
    this.voters = voters;
    if (this.role !== 'leader') return;
    for (const voter of voters) {
      if (this.progress.has(voter)) continue;
      const progress = this.newProgress(this.log.lastIndex() + 1);
      progress.recentActive = true; // a new member is not counted absent before it could answer
      this.progress.set(voter, progress);
    }
    // A removed member keeps getting appends (never counted) until the change commits, so it
    // learns of its removal and stops campaigning; pruneProgress drops it then.
    if (this.pendingMembershipIndex <= this.log.committed) this.pruneProgress();
    if (this.leadTransferee !== NONE && !voters.includes(this.leadTransferee)) this.leadTransferee = NONE;
    if (maybeCommit(this)) bcastAppend(this);
  }

  /** Leader: forgets the progress of members outside the configuration. */
  pruneProgress(): void {
    for (const member of [...this.progress.keys()]) {
      if (member !== this.id && !this.voters.includes(member)) this.progress.delete(member);
    }
  }

  // ——— Leader requests ———

  private requireLeader(what: string): void {
    if (this.role !== 'leader') {
      const known = this.lead === NONE ? 'no leader is known' : `the leader is ${JSON.stringify(this.lead)}`;
      throw new RaftError('NOT_LEADER', `raft ${this.id}: cannot ${what}: not the leader (${known})`, { leaderHint: this.lead });
    }
  }

  /** Appends entries at the end of the leader's log, in its term. */
  private appendEntries(entries: ReadonlyArray<Pick<Entry, 'type' | 'data'>>): Entry {
    const first = this.log.lastIndex() + 1;
    const stamped = entries.map((e, k) => ({ index: first + k, term: this.term, type: e.type, data: e.data }));
    this.log.append(stamped);
    for (const entry of stamped) this.uncommittedBytes += entry.data.length;
    return stamped[stamped.length - 1]!;
  }

  propose(data: Uint8Array): { index: number; term: number } {
    this.requireLeader('propose');
    if (this.leadTransferee !== NONE) {
      throw new RaftError('PROPOSAL_DROPPED', `raft ${this.id}: leadership is being transferred to ${JSON.stringify(this.leadTransferee)}`, { leaderHint: this.leadTransferee });
    }
    if (data.length > this.limits.entryBytesMax) {
      throw new RaftError('INVALID_ARGUMENT', `raft ${this.id}: proposal of ${data.length} bytes exceeds entryBytesMax (${this.limits.entryBytesMax})`);
    }
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + data.length > this.limits.uncommittedBytesMax) {
      throw new RaftError('PROPOSAL_DROPPED', `raft ${this.id}: ${this.uncommittedBytes} bytes are uncommitted; uncommittedBytesMax is ${this.limits.uncommittedBytesMax}`);
    }
    const entry = this.appendEntries([{ type: EntryType.Normal, data }]);
    bcastAppend(this);
    return { index: entry.index, term: entry.term };
  }

  proposeMembership(change: MembershipChange): { index: number; term: number } {
    this.requireLeader('change membership');
    if (this.leadTransferee !== NONE) {
      throw new RaftError('PROPOSAL_DROPPED', `raft ${this.id}: leadership is being transferred to ${JSON.stringify(this.leadTransferee)}`, { leaderHint: this.leadTransferee });
    }
    if (this.pendingMembershipIndex > this.log.committed) {
      throw new RaftError('MEMBERSHIP_CHANGE_PENDING', `raft ${this.id}: the membership change at index ${this.pendingMembershipIndex} is not committed yet`);
    }
    if (this.log.term(this.log.committed) !== this.term) {
      throw new RaftError('MEMBERSHIP_CHANGE_PENDING', `raft ${this.id}: the leader has not committed an entry of term ${this.term} yet`);
    }
    const voters = applyMembershipChange(this.voters, change);
    const entry = this.appendEntries([{ type: EntryType.Membership, data: encodeMembership({ change, voters }) }]);
    this.pendingMembershipIndex = entry.index;
    this.refreshVoters();
    bcastAppend(this);
    return { index: entry.index, term: entry.term };
  }

  readIndex(context: string): void {
    this.requireLeader('serve a read');
    if (context.length === 0) throw new RaftError('INVALID_ARGUMENT', `raft ${this.id}: a read needs a non-empty context`);
    if (this.readOnly.has(context) || this.pendingReadContexts.includes(context)) {
      throw new RaftError('INVALID_ARGUMENT', `raft ${this.id}: read context ${JSON.stringify(context)} is already pending`);
    }
    if (this.readOnly.size + this.pendingReadContexts.length >= this.limits.pendingReadsMax) {
      throw new RaftError('OVERLOADED', `raft ${this.id}: ${this.limits.pendingReadsMax} reads are pending (pendingReadsMax)`);
    }
    if (this.log.term(this.log.committed) !== this.term) this.pendingReadContexts.push(context);
    else this.startRead(context);
  }

  /** Records the commit index for the read and asks a quorum to confirm leadership. */
  startRead(context: string): void {
    if (this.voters.length === 1 && this.voters[0] === this.id) {
      this.readStates.push({ index: this.log.committed, context });
      return;
    }
    this.readOnly.add(this.log.committed, context);
    if (this.voters.includes(this.id)) this.readOnly.recordAck(this.id, context);
    bcastHeartbeat(this, context);
  }

  transferLeadership(to: NodeId): void {
    this.requireLeader('transfer leadership');
    if (to === this.id) return;
    if (!this.voters.includes(to)) throw new RaftError('INVALID_ARGUMENT', `raft ${this.id}: cannot transfer leadership to ${JSON.stringify(to)}, not a voter`);
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within an election timeout (tickLeader aborts it after).
    this.electionElapsed = 0;
    const progress = this.progress.get(to)!;
    if (progress.match === this.log.lastIndex()) sendTimeoutNow(this, to);
    else sendAppend(this, to);
  }
}
