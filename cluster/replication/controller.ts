/**
 * The node's replication controller: it owns the engine (through DbHolder), the persisted
 * node state, the NodeState requests route by, and whichever half of replication the node's
 * role calls for (LeaderReplication or FollowerReplication). Topology changes (a promotion
 * here, a newer epoch learnt from another node) go through it and nowhere else.
 *
 * Order of a topology change, always: persist it (fsync), then publish the new NodeState,
 * then start or stop the role's machinery. A restart therefore never forgets an epoch it
 * acted on, and a demoted leader refuses writes (routing sends them to the new leader) from
 * the moment it knows.
 *
 * Concurrency: adopt and promote run one at a time (`serial`). The follower loop never waits
 * on them; it asks for topology fetches that run on their own (`learnFrom`, `discover`).
 */
import type { ServerResponse } from 'node:http';
import type { FileSystem } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { errorFields, type Log } from '../log.ts';
import { nodeStateFor, type NodeState } from '../node-state.ts';
import { Topology } from '../../protocol/topology.ts';
import { followerDigest, followerHashes, runAntiEntropyPass, type PassReport } from './anti-entropy.ts';
import type { DbHolder } from './db-holder.ts';
import { appendEpoch, checkHistory, newerHistory } from './epoch-history.ts';
import { FollowerReplication } from './follower.ts';
import { LeaderReplication, type StreamParams } from './leader.ts';
import { writeNodeMeta, type NodeMeta } from './node-meta.ts';
import type { Acks, ReplicationOptions } from '../../protocol/replication-options.ts';
import type { Peers } from '../peers.ts';
import type { RetentionLog } from './retention-log.ts';
import { TopologySync, type TopologyDocument } from './topology-sync.ts';
import type { FollowerStatus } from './follower-tracker.ts';

export interface ControllerOptions {
  address: string;
  dataDir: string;
  /** The file-system seam the node state is written through (the engine's). */
  fileSystem: FileSystem;
  holder: DbHolder;
  meta: NodeMeta;
  options: Readonly<ReplicationOptions>;
  /** Largest frame a stream may carry (from the value and batch limits). */
  frameBytesMax: number;
  batchOpsMax: number;
  peers: Peers;
  log: Log;
  now?: () => number;
}

/** What /metrics exports of replication (cluster/metrics.ts); `status()` is the JSON view. */
export interface ReplicationFigures {
  role: string;
  epoch: number;
  leader?: { lastSeq: number; followers: FollowerStatus[]; waitingWrites: number };
  follower?: { leader: string; applied: number; leaderSeq: number; connected: boolean };
}

export interface PromoteReport {
  epoch: number;
  shard: string;
  leader: string;
  lastSequence: number;
  notified: string[];
  unreachable: string[];
}

export class ReplicationController {
  private state: NodeState;
  private meta: NodeMeta;
  private leader: LeaderReplication | undefined;
  private follower: FollowerReplication | undefined;
  private serial: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<(state: NodeState) => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private pass: Promise<PassReport> | undefined;
  /** The retention log a promoted follower kept, handed to its LeaderReplication. */
  private inherited: RetentionLog | undefined;
  private readonly sync: TopologySync;
  private readonly now: () => number;

  constructor(private readonly o: ControllerOptions) {
    this.meta = o.meta;
    this.now = o.now ?? (() => performance.now());
    this.state = nodeStateFor(Topology.fromJson(o.meta.topology), o.address, !o.meta.installing);
    this.sync = new TopologySync(o.peers, o.address, o.log, (doc, from) => this.adopt(doc, from));
  }

  get nodeState(): NodeState {
    return this.state;
  }

  get holder(): DbHolder {
    return this.o.holder;
  }

  get acksDefault(): Acks {
    return this.o.options.acksDefault;
  }

  onState(listener: (state: NodeState) => void): void {
    this.listeners.add(listener);
  }

  /** Asks every other node for its topology and adopts the newest; run before serving, so a deposed leader learns first. */
  discover(): Promise<void> {
    return this.sync.discover(this.state.topology.addresses());
  }

  /** Starts the role's machinery and the periodic tasks. */
  async start(): Promise<void> {
    await this.run(() => this.applyRole());
    const { options } = this.o;
    const check = setInterval(() => {
      // A leader cut off from a promotion learns of it from its shard's other nodes.
      if (this.state.role === 'leader') void this.sync.discover([...this.state.shard.replicas]);
    }, options.topologyCheckIntervalMs);
    this.timers.push(check);
    if (options.antiEntropyIntervalMs > 0) {
      this.timers.push(setInterval(() => {
        if (this.state.role === 'leader') this.antiEntropy().catch((error: unknown) => this.o.log('warn', 'anti-entropy pass failed', errorFields(error)));
      }, options.antiEntropyIntervalMs));
    }
    for (const timer of this.timers) timer.unref();
  }

  /** Ends streams, fails waiting acks=all writes, stops following. The engine stays open. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.leader?.stop();
    await this.follower?.stop();
    this.o.peers.close();
  }

  /** Throws NOT_ENOUGH_REPLICAS if an acks=all write cannot be confirmed; nothing is written then. */
  checkWrite(acks: Acks): void {
    if (acks === 'all') this.requireLeader().checkWrite(acks);
  }

  /** Waits until the write at `seq` is confirmed as `acks` asks; throws if this node stopped leading. */
  async confirmWrite(seq: number, acks: Acks): Promise<void> {
    if (acks === 'all') await this.requireLeader().confirm(seq, acks);
    if (this.state.role !== 'leader') {
      throw new ClusterError('NOT_LEADER', `the write at seq ${seq} is in this node's log, but the node lost its leadership before acknowledging it (epoch ${this.state.topology.epoch})`);
    }
  }

  /** A replica: whether it has applied `seq`, waiting up to `replica_read_wait_ms_max`. A leader has. */
  waitApplied(seq: number): Promise<boolean> {
    if (this.state.role === 'leader') return Promise.resolve(true);
    return this.follower?.waitApplied(seq, this.o.options.replicaReadWaitMsMax) ?? Promise.resolve(false);
  }

  serveStream(res: ServerResponse, params: StreamParams, writeHead: () => void): Promise<void> {
    return this.requireLeader().serveStream(res, params, writeHead);
  }

  report(node: string, epoch: number, applied: number, checkpoint: number | undefined): void {
    this.requireLeader().report(node, epoch, applied, checkpoint);
  }

  topologyDocument(): TopologyDocument {
    return { topology: this.state.topology.toJson(), history: [...this.meta.history] };
  }

  /** Adopts a topology if its epoch is newer than ours; see the file comment for the order. */
  adopt(doc: { topology: unknown; history: unknown }, from: string): Promise<boolean> {
    const topology = Topology.fromJson(doc.topology);
    const history = checkHistory(doc.history, `topology from ${from}`);
    return this.run(async () => {
      const current = this.state.topology;
      if (topology.epoch <= current.epoch) {
        if (topology.epoch === current.epoch && !topology.sameAs(current)) this.o.log('warn', 'two topologies claim one epoch; keeping ours', { epoch: topology.epoch, from });
        return false;
      }
      if (!topology.locate(this.o.address)) {
        this.o.log('error', 'a newer topology does not list this node; ignoring it', { epoch: topology.epoch, from });
        return false;
      }
      await this.saveMeta({ topology: topology.toJson(), history: newerHistory(this.meta.history, history) });
      this.publish(nodeStateFor(topology, this.o.address, this.state.replicaReadable));
      await this.applyRole();
      this.leader?.setEpoch(topology.epoch, this.meta.history);
      this.o.log('info', 'adopted a newer topology', { epoch: topology.epoch, from, role: this.state.role, leader: this.state.shard.leader });
      return true;
    });
  }

  /** Makes this replica its shard's leader under epoch + 1 and tells every node. */
  async promote(force: boolean): Promise<PromoteReport> {
    const report = await this.run(async () => {
      if (this.state.role === 'leader') throw new ClusterError('NOT_PROMOTABLE', `${this.o.address} already leads ${this.state.shard.name} at epoch ${this.state.topology.epoch}`);
      if (this.follower?.isInstalling ?? this.meta.installing) throw new ClusterError('NOT_PROMOTABLE', `${this.o.address} is installing a snapshot; its data is partial`);
      await this.follower?.stop();
      this.inherited = this.follower?.retained();
      this.follower = undefined;
      const lastSequence = this.o.holder.db.lastSequence;
      if (!force) await this.sync.checkMostUpToDate(this.state.shard, lastSequence);
      const epoch = this.state.topology.epoch + 1;
      const topology = this.state.topology.withLeader(this.state.shard.name, this.o.address, epoch);
      await this.saveMeta({ topology: topology.toJson(), history: appendEpoch(this.meta.history, epoch, lastSequence), dataEpoch: epoch, installing: false });
      this.publish(nodeStateFor(topology, this.o.address, true));
      await this.applyRole();
      this.o.log('info', 'promoted to leader', { shard: this.state.shard.name, epoch, lastSequence });
      return { epoch, shard: this.state.shard.name, leader: this.o.address, lastSequence };
    }).catch(async (error: unknown) => {
      // A refused promotion leaves the node a follower, as it was.
      await this.run(() => this.applyRole());
      throw error;
    });
    const { notified, unreachable } = await this.sync.push(this.topologyDocument(), this.state.topology.addresses());
    return { ...report, notified, unreachable };
  }

  /** Runs an anti-entropy pass now (one at a time); leader only. */
  antiEntropy(): Promise<PassReport> {
    const leader = this.requireLeader();
    this.pass ??= runAntiEntropyPass({
      holder: this.o.holder, leader, peers: this.o.peers, log: this.o.log,
      rangeKeys: this.o.options.antiEntropyRangeKeys, batchOpsMax: this.o.batchOpsMax,
    }).finally(() => {
      this.pass = undefined;
    });
    return this.pass;
  }

  antiEntropyDigest(body: unknown) {
    return followerDigest(this.requireFollower(), this.o.holder.db, body);
  }

  antiEntropyHashes(body: unknown) {
    return followerHashes(this.requireFollower(), this.o.holder.db, body);
  }

  status(): Record<string, unknown> {
    return {
      role: this.state.role,
      epoch: this.state.topology.epoch,
      dataEpoch: this.meta.dataEpoch,
      history: this.meta.history,
      readable: this.state.replicaReadable,
      ...(this.leader && { leader: this.leader.status() }),
      ...(this.follower && { follower: this.follower.status() }),
    };
  }

  figures(): ReplicationFigures {
    const leader = this.leader;
    const follower = this.follower?.status();
    return {
      role: this.state.role,
      epoch: this.state.topology.epoch,
      leader: leader && { lastSeq: leader.retention.lastSeq, followers: leader.followers(), waitingWrites: leader.waitingWrites },
      follower: follower && { leader: this.state.shard.leader, applied: follower.applied as number, leaderSeq: follower.leaderSeq as number, connected: follower.connected as boolean },
    };
  }

  private requireLeader(): LeaderReplication {
    if (this.state.role === 'leader' && this.leader) return this.leader;
    throw new ClusterError('NOT_LEADER', `${this.o.address} does not lead ${this.state.shard.name} at epoch ${this.state.topology.epoch}; its leader is ${this.state.shard.leader}`);
  }

  private requireFollower(): FollowerReplication {
    if (this.follower) return this.follower;
    throw new ClusterError('NO_CHECKPOINT', `${this.o.address} is not following a leader`);
  }

  /** Starts or stops the machinery the current role needs. Runs under `serial`. */
  private async applyRole(): Promise<void> {
    const gate = this.o.holder.gate;
    if (this.state.role === 'leader') {
      await this.follower?.stop();
      this.follower = undefined;
      gate.open();
      this.leader ??= new LeaderReplication({
        db: this.o.holder.db, options: this.o.options, address: this.o.address, log: this.o.log, now: this.now,
        epoch: this.state.topology.epoch,
        history: this.meta.history,
        onNewerEpoch: (from) => this.sync.learnFrom(from),
      }, this.inherited);
      this.inherited = undefined;
      return;
    }
    this.leader?.stop();
    this.leader = undefined;
    // No client write may reach a follower's engine; the ones already there finish first.
    gate.shut(() => new ClusterError('NOT_LEADER', `${this.o.address} no longer leads ${this.state.shard.name}; its leader is ${this.state.shard.leader}`));
    await gate.settled();
    if (this.follower) {
      this.follower.follow(this.state.shard.leader, this.state.topology.epoch);
      return;
    }
    this.follower = new FollowerReplication({
      holder: this.o.holder, options: this.o.options, address: this.o.address, peers: this.o.peers, log: this.o.log,
      now: this.now, frameBytesMax: this.o.frameBytesMax,
      state: () => this.state,
      meta: () => this.meta,
      saveMeta: (change) => this.saveMeta(change),
      setReadable: (readable) => this.publish({ ...this.state, replicaReadable: readable }),
      learnFrom: (address) => this.sync.learnFrom(address),
      discover: () => void this.discover(),
    });
    this.follower.start();
  }

  private async saveMeta(change: Partial<NodeMeta>): Promise<void> {
    const next = Object.freeze({ ...this.meta, ...change });
    await writeNodeMeta(this.o.fileSystem, this.o.dataDir, next);
    this.meta = next;
  }

  private publish(state: NodeState): void {
    this.state = Object.freeze(state);
    for (const listener of this.listeners) listener(this.state);
  }

  private run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.serial.then(section);
    this.serial = result.catch(() => undefined);
    return result;
  }
}
