/**
 * The control plane as it runs inside a controller node (KRaft's combined mode): one member of
 * the Raft group that replicates the cluster's metadata (metadata.ts), and, while it is the
 * group's leader, the cluster's controller: it commits the commands nodes propose, grants shard
 * leaders their leases, and elects a new leader for a shard whose lease has certainly ended
 * (failover.ts). docs/control-plane.md and docs/failover.md describe the whole.
 *
 * I/O shell: the Raft driver (cluster/raft's RaftGroup) owns the protocol and the storage
 * (`<data>/raft`, through the engine's file-system seam); this class owns the tick timer, the
 * transport of Raft messages (raft-transport.ts), the long-polls of watching nodes, the lease
 * book and the elections in flight.
 *
 * Concurrency: requests run on the event loop and interleave at their awaits; an election per
 * shard at a time (`electing`); the lease book is replaced whole when this member becomes leader.
 */
import type { FileSystem } from '../../engine/index.ts';
import type { ControlOptions } from '../../protocol/control-options.ts';
import { leaseWaitMs } from '../../protocol/control-options.ts';
import { ClusterError, NotControllerError } from '../../protocol/errors.ts';
import { CONTROL_STATE_TIMEOUT_MS, CONTROL_WATCHERS_MAX, ELECTION_RETRY_MS, STEP_DOWN_WAIT_MS } from '../limits.ts';
import { errorFields, type Log } from '../log.ts';
import type { Peers } from '../peers.ts';
import { decodeMessages, outcomeUnknown, RaftError, RaftGroup, type SoftState } from '../raft/index.ts';
import { chooseLeader, electCommand, electionCandidates, LeaseBook, type CandidateState } from './failover.ts';
import { MetadataMachine, encodeCommand } from './metadata-machine.ts';
import { refusalError, type Command, type CommandResult, type Metadata, type ShardMeta } from './metadata.ts';
import { RaftTransport } from './raft-transport.ts';

export interface ControlPlaneOptions {
  address: string;
  controllers: readonly string[];
  fileSystem: FileSystem;
  /** The Raft group's directory (`<data>/raft`). */
  dir: string;
  peers: Peers;
  log: Log;
  control: Readonly<ControlOptions>;
  /** The first metadata, from cluster.toml: proposed by the first leader of a new cluster. */
  bootstrap: Extract<Command, { type: 'bootstrap' }>;
  now(): number;
  random(): number;
}

interface Watcher {
  after: number;
  resolve(metadata: Metadata): void;
  timer: NodeJS.Timeout;
}

export class ControlPlane {
  private readonly machine: MetadataMachine;
  private group!: RaftGroup;
  private readonly transport: RaftTransport;
  private ticker: NodeJS.Timeout | undefined;
  private readonly watchers = new Set<Watcher>();
  /** While this member leads: its lease book, and whether its first read has confirmed it is up to date. */
  private leadership: { book: LeaseBook; ready: boolean } | undefined;
  private readonly electing = new Set<string>();
  /** Per shard, when an election that found no candidate may be tried again, and how many have failed in a row. */
  private readonly retryAt = new Map<string, { atMs: number; failures: number }>();
  private readonly waitMs: number;
  private stopped = false;

  private constructor(private readonly o: ControlPlaneOptions) {
    this.machine = new MetadataMachine((metadata) => this.applied(metadata));
    this.transport = new RaftTransport(o.peers, o.log);
    this.waitMs = leaseWaitMs(o.control);
  }

  static async open(o: ControlPlaneOptions): Promise<ControlPlane> {
    const plane = new ControlPlane(o);
    plane.group = await RaftGroup.open({
      id: o.address, fileSystem: o.fileSystem, dir: o.dir, initialVoters: o.controllers,
      stateMachine: plane.machine, send: (messages) => plane.transport.send(messages), random: o.random,
      limits: { electionTicks: o.control.electionTicks, heartbeatTicks: o.control.heartbeatTicks },
      onSoftState: (state) => plane.softState(state),
    });
    return plane;
  }

  start(): void {
    this.ticker = setInterval(() => this.tick(), this.o.control.tickMs);
    this.ticker.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    for (const w of this.watchers) {
      clearTimeout(w.timer);
      w.resolve(this.machine.metadata);
    }
    this.watchers.clear();
    this.transport.close();
    await this.group.close();
  }

  /**
   * Before this member stops: if it leads, hands the Raft leadership to another controller and
   * waits (briefly) until it has, so the group does not sit out an election timeout.
   */
  async stepDown(): Promise<void> {
    if (this.group.softState.role !== 'leader') return;
    const other = this.o.controllers.find((c) => c !== this.o.address);
    if (!other) return;
    this.group.transferLeadership(other);
    const deadline = this.o.now() + STEP_DOWN_WAIT_MS;
    while (this.group.softState.role === 'leader' && this.o.now() < deadline) await new Promise((resolve) => setTimeout(resolve, this.o.control.tickMs));
  }

  /** The metadata as this member has applied it (it may lag the leader's by a heartbeat). */
  get metadata(): Metadata {
    return this.machine.metadata;
  }

  /** A batch of Raft messages from another controller. */
  receive(payload: Uint8Array): void {
    this.group.receive(decodeMessages(payload));
  }

  /** The metadata once its version passes `after`, or as it is after `waitMs`. */
  watch(after: number, waitMs: number): Promise<Metadata> {
    if (this.machine.metadata.version > after || waitMs <= 0 || this.stopped || this.watchers.size >= CONTROL_WATCHERS_MAX) return Promise.resolve(this.machine.metadata);
    return new Promise((resolve) => {
      const watcher: Watcher = { after, resolve, timer: setTimeout(() => this.unwatch(watcher), waitMs) };
      this.watchers.add(watcher);
    });
  }

  /** The metadata as of now, confirmed with a quorum (linearizable). Leader only. */
  async read(): Promise<Metadata> {
    this.requireLeader();
    await asCluster(this.group.read(), 'read');
    return this.machine.metadata;
  }

  /**
   * Commits `command` and resolves to the metadata after it; throws its refusal. `from` names the
   * node that asks: an election that does not come from the shard's current leader (a handover)
   * waits for that leader's lease to have certainly ended.
   */
  async propose(command: Command, from: string | undefined): Promise<Metadata> {
    const leadership = this.requireLeader();
    if (command.type === 'elect' || command.type === 'set-in-sync') this.checkProposer(command, from, leadership.book);
    if (command.type === 'move') this.checkMoveProposer(command, from);
    const result = await asCluster(this.group.propose(encodeCommand(command)), 'propose') as CommandResult;
    if (!result.ok) throw refusalError(result);
    return result.metadata;
  }

  /** Grants `node`, the leader of `shard` at `term`, a lease of `leaseMs` (from when it asked). */
  async grantLease(shard: string, node: string, term: number): Promise<number> {
    const leadership = this.requireLeader();
    // Confirms with a quorum that this member still leads: a deposed controller grants nothing.
    await asCluster(this.group.read(), 'read');
    const current = this.machine.metadata.shards.find((s) => s.name === shard);
    if (!current) throw new ClusterError('UNKNOWN_SHARD', `no shard ${JSON.stringify(shard)}`);
    if (current.leader !== node || current.term !== term) {
      throw new ClusterError('STALE_TERM', `shard ${shard} is led by ${current.leader} at term ${current.term}, not by ${node} at term ${term}`);
    }
    if (this.electing.has(shard)) throw new ClusterError('LEASE_EXPIRED', `shard ${shard} is electing a new leader; its lease ended`);
    leadership.book.granted(shard, node, term, this.o.now());
    return this.o.control.leaseMs;
  }

  status(): Record<string, unknown> {
    const raft = this.group.status();
    return { ...raft, metadataVersion: this.machine.metadata.version, controllers: this.o.controllers, electing: [...this.electing] };
  }

  /** The leader's address as this member knows it, if any. */
  leaderHint(): string | undefined {
    const leader = this.group.softState.leader;
    return leader === '' ? undefined : leader;
  }

  private requireLeader(): { book: LeaseBook; ready: boolean } {
    if (this.leadership && this.group.softState.role === 'leader') return this.leadership;
    const hint = this.leaderHint();
    const leader = hint && hint !== this.o.address ? hint : undefined;
    throw new NotControllerError(leader ? `${this.o.address} does not lead the control plane; ${leader} does` : `${this.o.address} does not lead the control plane; no leader is known yet`, leader);
  }

  private checkProposer(command: Extract<Command, { type: 'elect' | 'set-in-sync' }>, from: string | undefined, book: LeaseBook): void {
    const shard = this.machine.metadata.shards.find((s) => s.name === command.shard);
    if (!shard) return; // the state machine refuses it with UNKNOWN_SHARD
    if (command.type === 'set-in-sync') {
      if (from !== shard.leader) throw new ClusterError('STALE_TERM', `only the leader of ${shard.name} (${shard.leader}) changes its in-sync set, not ${from ?? 'an unnamed node'}`);
      return;
    }
    if (from === shard.leader) return; // a handover: the leader stopped taking writes before it asked
    const remaining = book.remainingMs(shard, this.o.now());
    if (remaining > 0) {
      throw new ClusterError('NOT_PROMOTABLE', `${shard.leader} leads ${shard.name} at term ${shard.term} and may hold a lease for ${Math.ceil(remaining)} ms more; promote again after that, or ask the leader for a handover (POST /admin/transfer)`);
    }
  }

  /**
   * A move's copy steps come from the receiving shard's leader, its cleanup from the giving
   * shard's: a deposed leader still running its loop must not step a move it no longer drives.
   */
  private checkMoveProposer(command: Extract<Command, { type: 'move' }>, from: string | undefined): void {
    const name = command.step === 'cleaned' ? command.giver : command.receiver;
    const shard = this.machine.metadata.shards.find((s) => s.name === name);
    if (shard && from !== shard.leader) throw new ClusterError('STALE_TERM', `only the leader of ${name} (${shard.leader}) takes a move's ${command.step} step, not ${from ?? 'an unnamed node'}`);
  }

  private softState(state: SoftState): void {
    if (state.role === 'leader' && state.leader === this.o.address) {
      if (this.leadership) return;
      const book = new LeaseBook(this.o.now(), this.waitMs);
      this.leadership = { book, ready: false };
      this.o.log('info', 'leading the control plane', { term: state.term });
      // Up to date once a read confirms this term's first entry is applied; then bootstrap or fail over.
      this.group.read().then(() => {
        if (this.leadership?.book !== book) return;
        this.leadership.ready = true;
        if (this.machine.metadata.shards.length === 0) void this.bootstrap();
      }, (error: unknown) => this.o.log('debug', 'first read as control-plane leader failed', errorFields(error)));
    } else if (this.leadership) {
      this.leadership = undefined;
      this.o.log('info', 'no longer leading the control plane', { leader: state.leader || null, term: state.term });
    }
  }

  private async bootstrap(): Promise<void> {
    try {
      await this.propose(this.o.bootstrap, this.o.address);
      this.o.log('info', 'bootstrapped the cluster metadata from the config', { shards: this.o.bootstrap.shards.length });
    } catch (error) {
      if ((error as ClusterError).code !== 'ALREADY_BOOTSTRAPPED') this.o.log('warn', 'bootstrap failed; will retry', errorFields(error));
    }
  }

  private tick(): void {
    if (this.stopped) return;
    this.group.tick();
    const leadership = this.leadership;
    if (!leadership?.ready) return;
    if (this.machine.metadata.shards.length === 0) return void this.bootstrap();
    const now = this.o.now();
    for (const shard of this.machine.metadata.shards) {
      leadership.book.observe(shard, now);
      if (this.electing.has(shard.name) || (this.retryAt.get(shard.name)?.atMs ?? 0) > now) continue;
      if (leadership.book.remainingMs(shard, now) === 0) this.failOver(shard);
    }
  }

  /** Elects a new leader for `shard`, whose lease has certainly ended; one at a time per shard. */
  private failOver(shard: ShardMeta): void {
    this.electing.add(shard.name);
    void this.elect(shard)
      .catch((error: unknown) => this.o.log('warn', 'failover failed; will try again', { shard: shard.name, ...errorFields(error) }))
      .finally(() => this.electing.delete(shard.name));
  }

  private async elect(shard: ShardMeta): Promise<void> {
    const candidates = electionCandidates(shard);
    const answers = (await Promise.all(candidates.map((node) => this.askState(node, shard.name)))).filter((a): a is CandidateState => a !== undefined);
    const leader = chooseLeader(shard, answers);
    if (!leader) {
      const failures = (this.retryAt.get(shard.name)?.failures ?? 0) + 1;
      this.retryAt.set(shard.name, { atMs: this.o.now() + ELECTION_RETRY_MS, failures });
      if (failures === 1 || failures % 30 === 0) {
        this.o.log('warn', 'shard leader lost its lease and no in-sync member answered; the shard takes no writes', {
          shard: shard.name, leader: shard.leader, term: shard.term, inSync: shard.inSync, attempts: failures,
          hint: 'restart an in-sync member, or POST /admin/promote?unclean=true on another member (it can lose acknowledged writes)',
        });
      }
      return;
    }
    this.retryAt.delete(shard.name);
    if (leader === shard.leader && answers.length === 1) {
      this.leadership?.book.restart(shard, this.o.now());
      this.o.log('info', 'shard leader lost its lease but is the only member that can lead; waiting for it to renew, no new term', { shard: shard.name, leader, term: shard.term });
      return;
    }
    const metadata = await this.propose(electCommand(shard, leader), undefined);
    const elected = metadata.shards.find((s) => s.name === shard.name)!;
    this.o.log('info', 'elected a new shard leader', { shard: shard.name, leader, term: elected.term, previous: shard.leader, candidates: answers });
  }

  private async askState(node: string, shard: string): Promise<CandidateState | undefined> {
    try {
      const answer = await this.o.peers.call(node, 'GET', '/internal/state', { timeoutMs: CONTROL_STATE_TIMEOUT_MS });
      const state = answer.json as { shard?: unknown; lastSequence?: unknown; replication?: { dataTerm?: unknown } } | undefined;
      if (answer.status !== 200 || state?.shard !== shard || !Number.isSafeInteger(state.lastSequence)) return undefined;
      const dataTerm = Number(state.replication?.dataTerm ?? 0);
      return { node, dataTerm: Number.isSafeInteger(dataTerm) ? dataTerm : 0, lastSequence: state.lastSequence as number };
    } catch {
      return undefined;
    }
  }

  private applied(metadata: Metadata): void {
    for (const w of this.watchers) {
      if (metadata.version > w.after) {
        clearTimeout(w.timer);
        this.watchers.delete(w);
        w.resolve(metadata);
      }
    }
  }

  private unwatch(watcher: Watcher): void {
    this.watchers.delete(watcher);
    watcher.resolve(this.machine.metadata);
  }
}

/**
 * Raft's failures as the cluster's error codes, so a node knows what to do with them: not the
 * leader, or dropped before the log → NOT_CONTROLLER (nothing done; ask the leader, named when
 * known); outcome unknown (leadership lost, timed out, stopped) → UNCONFIRMED for a proposal,
 * NOT_CONTROLLER for a read (which changes nothing, so there is no outcome to be unsure of);
 * too busy → OVERLOADED (nothing done). Anything else is a bug and stays as it is (INTERNAL).
 */
async function asCluster<T>(pending: Promise<T>, what: 'read' | 'propose'): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    if (!(error instanceof RaftError)) throw error;
    if (error.code === 'NOT_LEADER' || error.code === 'PROPOSAL_DROPPED') throw new NotControllerError(`the control plane did not take it: ${error.message}`, error.leaderHint || undefined);
    if (outcomeUnknown(error) && what === 'read') throw new NotControllerError(`the control plane could not confirm its leadership: ${error.message}`, undefined);
    if (outcomeUnknown(error)) throw new ClusterError('UNCONFIRMED', `the control plane may or may not have committed it: ${error.message}`, { cause: error });
    if (error.code === 'OVERLOADED') throw new ClusterError('OVERLOADED', `the control plane is busy: ${error.message}`, { cause: error });
    throw error;
  }
}
