/**
 * The driver of one member of a Raft group: it owns the pure core (RaftNode), its durable
 * storage (RaftStorage) and the application's state machine, and runs the Ready loop:
 *
 *   persist (fsync) → send → apply → advance → compact past `snapshotEntries`
 *
 * Inputs are `tick()` (from the owner's clock: it has none of its own), `receive()` (from the
 * transport) and the requests. Outputs are the `send` callback and the requests' promises.
 * The node process and the simulator (test/raft/sim/) drive the same class.
 *
 * @example
 * ```ts
 * const group = await RaftGroup.open({ id: 'n1', fileSystem: new NodeFileSystem(), dir: './data/raft',
 *   initialVoters: ['n1', 'n2', 'n3'], stateMachine, send: (ms) => transport.send(ms), random: seededRandom(seed) });
 * setInterval(() => group.tick(), 100);
 * transport.onMessages((ms) => group.receive(ms));
 * const result = await group.propose(command);   // the state machine's result for it
 * await group.read(); stateMachine.get(key);      // a linearizable read
 * ```
 *
 * Outcomes: a proposal resolves with the state machine's result once its entry is applied
 * here. It rejects with NOT_LEADER or PROPOSAL_DROPPED when it certainly did not happen, and
 * with LEADERSHIP_LOST, TIMEOUT or STOPPED when it may still happen (outcomeUnknown()).
 *
 * Concurrency: requests and inputs are synchronous calls between the loop's awaits; the loop
 * awaits only storage. A failed storage call stops the group (`failure`): the owner must
 * restart the process, since the durable state is in doubt. A broken invariant stops it too
 * and is rethrown to kill the process (`onFatal`).
 */
import { AssertionError } from 'node:assert';
import type { FileSystem } from '../../engine/index.ts';
import { validateRaftLimits, type RaftLimits } from './raft-config.ts';
import { RaftError } from './raft-errors.ts';
import { RaftNode, type RaftLogView, type RaftStatus } from './raft-node.ts';
import { RaftStorage } from './raft-storage.ts';
import { EntryType, type Entry, type MembershipChange, type Message, type NodeId, type Ready, type SoftState } from './raft-types.ts';

/**
 * The application's replicated state. It starts empty (or as the last snapshot restored it);
 * every member applies the same commands in the same order.
 */
export interface StateMachine {
  /** Applies a committed command; the result resolves the proposal. Empty entries (leaders' no-ops) are not passed. */
  apply(index: number, data: Uint8Array): unknown;
  /** The whole state, as of the last applied index. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
}

export interface RaftGroupOptions {
  id: NodeId;
  fileSystem: FileSystem;
  /** The directory of this member's Raft files (nothing else may live there). */
  dir: string;
  /** The founding voters, used only when `dir` holds no state yet; [] for a member that will be added. */
  initialVoters: readonly NodeId[];
  stateMachine: StateMachine;
  /** Hands messages to the transport; called only after their Ready is durable. Must not throw. */
  send: (messages: Message[]) => void;
  /** Seeded generator for election timeouts (seed it differently per member and per start). */
  random: () => number;
  limits?: Partial<RaftLimits>;
  /** Called with each change of role, leader or term. */
  onSoftState?: (state: SoftState) => void;
  /**
   * Called with a broken invariant (an AssertionError from the core or the storage) after the
   * group has stopped. By default it is rethrown outside any promise, so the process dies, as a
   * bug must stop it before it persists or sends anything wrong. Tests pass a recorder.
   */
  onFatal?: (error: Error) => void;
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  deadlineTick: number;
}

interface PendingProposal extends Waiter<unknown> {
  term: number;
}

interface PendingRead extends Waiter<void> {
  index: number | undefined;
}

export class RaftGroup {
  private readonly node: RaftNode;
  private readonly limits: Readonly<RaftLimits>;
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readCounter = 0;
  private ticks = 0;
  private appliedIndex: number;
  private leaderTerm = 0;
  private loop: Promise<void> | undefined;
  private closed = false;
  /** Why the group stopped, if a storage call failed. */
  failure: Error | undefined;

  private constructor(private readonly options: RaftGroupOptions, private readonly storage: RaftStorage, limits: Readonly<RaftLimits>) {
    this.limits = limits;
    const state = storage.initialState();
    if (state.snapshot.index > 0) options.stateMachine.restore(state.snapshot.data);
    this.appliedIndex = state.snapshot.index;
    this.node = new RaftNode({ id: options.id, limits, random: options.random, state });
  }

  /** Opens the member's storage (bootstrapping a fresh one with `initialVoters`) and restores the state machine. */
  static async open(options: RaftGroupOptions): Promise<RaftGroup> {
    const limits = validateRaftLimits(options.limits);
    const storage = await RaftStorage.open(options.fileSystem, options.dir);
    if (storage.fresh && options.initialVoters.length > 0) await storage.bootstrap(options.initialVoters);
    const group = new RaftGroup(options, storage, limits);
    group.kick(); // committed entries past the snapshot are applied again at once, not at the first message
    return group;
  }

  tick(): void {
    if (!this.running()) return;
    this.ticks++;
    this.guard(() => this.node.tick());
    this.expire();
    this.kick();
  }

  /** Messages from the transport; ones not for this member or malformed are dropped. */
  receive(messages: Message | readonly Message[]): void {
    if (!this.running()) return;
    for (const m of Array.isArray(messages) ? messages : [messages as Message]) {
      this.guard(() => {
        try {
          this.node.step(m);
        } catch (error) {
          if ((error as RaftError).code !== 'BAD_MESSAGE') throw error;
        }
      });
    }
    this.kick();
  }

  /** Runs core code; a broken invariant stops the group and goes to onFatal. */
  private guard(run: () => void): void {
    if (!this.running()) return;
    try {
      run();
    } catch (error) {
      this.stop(error as Error);
    }
  }

  /** Proposes a command; resolves with the state machine's result once applied here. */
  propose(data: Uint8Array): Promise<unknown> {
    return this.request((deadlineTick) => {
      if (this.proposals.size >= this.limits.pendingProposalsMax) throw new RaftError('OVERLOADED', `raft group ${this.options.id}: ${this.proposals.size} proposals pending (pendingProposalsMax)`);
      const at = this.node.propose(data);
      return new Promise((resolve, reject) => this.proposals.set(at.index, { term: at.term, resolve, reject, deadlineTick }));
    });
  }

  /** Adds or removes one voter; resolves once the change is applied here (it took effect when appended). */
  proposeMembership(change: MembershipChange): Promise<void> {
    return this.request((deadlineTick) => {
      const at = this.node.proposeMembership(change);
      return new Promise<void>((resolve, reject) => this.proposals.set(at.index, { term: at.term, resolve: () => resolve(), reject, deadlineTick }));
    });
  }

  /** Resolves when the state machine may be read linearizably (ReadIndex, then applied up to it). */
  read(): Promise<void> {
    return this.request((deadlineTick) => {
      if (this.reads.size >= this.limits.pendingReadsMax) throw new RaftError('OVERLOADED', `raft group ${this.options.id}: ${this.reads.size} reads pending (pendingReadsMax)`);
      const context = `${this.options.id}.${++this.readCounter}`;
      this.node.readIndex(context);
      return new Promise<void>((resolve, reject) => this.reads.set(context, { index: undefined, resolve, reject, deadlineTick }));
    });
  }

  transferLeadership(to: NodeId): void {
    this.checkRunning();
    this.node.transferLeadership(to);
    this.kick();
  }

  /** Campaigns now instead of at the election timeout (e.g. a single-member group at start). */
  campaign(): void {
    this.checkRunning();
    this.node.campaign();
    this.kick();
  }

  status(): RaftStatus {
    return this.node.status();
  }

  /** Role, leader and term (cheaper than status()). */
  get softState(): SoftState {
    return this.node.softState;
  }

  /** The log, read-only (status pages, the simulator's invariant checks). */
  get log(): RaftLogView {
    return this.node.log;
  }

  /** True while the Ready loop runs or has work. */
  get busy(): boolean {
    return this.loop !== undefined || (this.running() && this.node.hasReady());
  }

  /** Resolves when the Ready loop has nothing left to do (for tests and the simulator). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
    this.rejectAll(new RaftError('STOPPED', `raft group ${this.options.id}: closed`));
    this.storage.close();
  }

  // ——— The Ready loop ———

  private running(): boolean {
    return !this.closed && this.failure === undefined;
  }

  private checkRunning(): void {
    if (!this.running()) throw new RaftError('STOPPED', `raft group ${this.options.id}: ${this.failure ? `stopped after a failure: ${this.failure.message}` : 'closed'}`, { cause: this.failure });
  }

  private request<T>(start: (deadlineTick: number) => Promise<T>): Promise<T> {
    try {
      this.checkRunning();
      const promise = start(this.ticks + this.limits.requestTimeoutTicks);
      this.kick();
      return promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private kick(): void {
    if (this.loop || !this.running() || !this.node.hasReady()) return;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      this.kick(); // input that arrived during the last await
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.running() && this.node.hasReady()) {
        await this.handleReady(this.node.ready());
        await this.maybeCompact();
      }
    } catch (error) {
      this.stop(error as Error);
    }
  }

  /**
   * Stops the group for good: a storage failure leaves the durable state in doubt, a broken
   * invariant means a bug. Pending requests reject with STOPPED (outcome unknown).
   */
  private stop(error: Error): void {
    this.failure = error;
    this.rejectAll(new RaftError('STOPPED', `raft group ${this.options.id}: stopped: ${error.message}`, { cause: error }));
    this.storage.close();
    if (!(error instanceof AssertionError)) return;
    const fatal = this.options.onFatal ?? ((e: Error) => queueMicrotask(() => { throw e; }));
    fatal(error);
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) await this.storage.save(rd);
    // Only now, with votes and entries durable, may anything be acknowledged.
    if (rd.messages.length > 0) this.options.send([...rd.messages]);
    if (rd.snapshot) this.restore(rd.snapshot.index, rd.snapshot.data);
    for (const entry of rd.committedEntries) this.apply(entry);
    for (const rs of rd.readStates) {
      const read = this.reads.get(rs.context);
      if (read) read.index = rs.index;
    }
    this.serveReads();
    if (rd.softState) this.onSoftState(rd.softState);
    this.node.advance();
  }

  private restore(index: number, data: Uint8Array): void {
    this.options.stateMachine.restore(data);
    this.appliedIndex = index;
    const lost = new RaftError('LEADERSHIP_LOST', `raft group ${this.options.id}: a snapshot from the leader replaced the log`);
    for (const [at, proposal] of this.proposals) if (at <= index) this.settle(this.proposals, at, proposal, lost);
  }

  private apply(entry: Entry): void {
    const result = entry.type === EntryType.Normal && entry.data.length > 0 ? this.options.stateMachine.apply(entry.index, entry.data) : undefined;
    this.appliedIndex = entry.index;
    const proposal = this.proposals.get(entry.index);
    if (!proposal) return;
    this.proposals.delete(entry.index);
    if (entry.term === proposal.term) proposal.resolve(result);
    else proposal.reject(new RaftError('PROPOSAL_DROPPED', `raft group ${this.options.id}: the entry proposed at ${entry.index} in term ${proposal.term} was overwritten by term ${entry.term}`));
  }

  private serveReads(): void {
    for (const [context, read] of this.reads) {
      if (read.index !== undefined && read.index <= this.appliedIndex) {
        this.reads.delete(context);
        read.resolve();
      }
    }
  }

  private onSoftState(state: SoftState): void {
    if (this.leaderTerm !== 0 && (state.role !== 'leader' || state.term !== this.leaderTerm)) {
      this.rejectAll(new RaftError('LEADERSHIP_LOST', `raft group ${this.options.id}: no longer the leader of term ${this.leaderTerm}`, { leaderHint: state.leader }));
    }
    this.leaderTerm = state.role === 'leader' ? state.term : 0;
    this.options.onSoftState?.(state);
  }

  private async maybeCompact(): Promise<void> {
    // A leader's snapshot may have arrived (restored, not yet applied) during the last await.
    if (this.appliedIndex - Math.max(this.storage.snapshot.index, this.node.log.snapshot.index) < this.limits.snapshotEntries) return;
    const snapshot = this.node.createSnapshot(this.appliedIndex, this.options.stateMachine.snapshot());
    await this.storage.compact(snapshot);
    this.node.compact(snapshot);
  }

  private expire(): void {
    const timeout = (what: string) => new RaftError('TIMEOUT', `raft group ${this.options.id}: ${what} not settled within ${this.limits.requestTimeoutTicks} ticks`);
    for (const [at, proposal] of this.proposals) if (proposal.deadlineTick <= this.ticks) this.settle(this.proposals, at, proposal, timeout(`proposal at ${at}`));
    for (const [context, read] of this.reads) if (read.deadlineTick <= this.ticks) this.settle(this.reads, context, read, timeout('read'));
  }

  private settle<K, W extends Waiter<never>>(map: Map<K, W>, key: K, waiter: W, error: Error): void {
    map.delete(key);
    waiter.reject(error);
  }

  private rejectAll(error: Error): void {
    for (const [at, proposal] of this.proposals) this.settle(this.proposals, at, proposal, error);
    for (const [context, read] of this.reads) this.settle(this.reads, context, read, error);
  }
}
