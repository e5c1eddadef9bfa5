/**
 * The node's replication controller: it owns the engine (through DbHolder), the persisted node
 * state, the NodeState requests route by, and whichever half of replication the committed
 * metadata gives this node (LeaderReplication or FollowerReplication). Every role change comes
 * from the control plane's metadata (`onMetadata`); the node never decides its role itself.
 *
 * Order of a role change, always: the write gate's ownership fence for the new metadata first
 * (synchronously), then persist what the change implies (a new leader records where its term
 * starts in the shard's history), start or stop the role's machinery, and publish the new
 * NodeState last. A deposed leader refuses writes (the write gate shuts) from the moment it
 * knows.
 *
 * Operator actions go through the control plane too: a promotion is an election this node
 * proposes (the control plane checks the in-sync set and the old leader's lease); a handover
 * (`transfer`) fences this leader, waits for its successor to catch up, and proposes the
 * successor as its own choice, which the control plane commits without waiting out the lease.
 *
 * Concurrency: role changes and operator actions run one at a time (`serial`). The follower
 * loop never waits on them.
 */
import type { ServerResponse } from 'node:http';
import type { FileSystem, Snapshot } from '../../engine/index.ts';
import type { ControlOptions } from '../../protocol/control-options.ts';
import { ClusterError } from '../../protocol/errors.ts';
import type { Acks, ReplicationOptions } from '../../protocol/replication-options.ts';
import { electCommand } from '../control/failover.ts';
import type { Command } from '../control/metadata.ts';
import { locateNode, type Metadata, type ShardMeta } from '../control/metadata.ts';
import { TRANSFER_CATCH_UP_MS_MAX } from '../limits.ts';
import { MigrationCleaner } from '../migration/cleaner.ts';
import { streamMove, type MoveStreamParams } from '../migration/giver.ts';
import { MigrationReceiver } from '../migration/receiver.ts';
import { ownershipFence } from '../routing.ts';
import { errorFields, type Log } from '../log.ts';
import { nodeStateFor, topologyOf, type NodeState } from '../node-state.ts';
import type { Peers } from '../peers.ts';
import { followerDigest, followerHashes, runAntiEntropyPass, type PassReport } from './anti-entropy.ts';
import type { DbHolder } from './db-holder.ts';
import type { MetaChange } from './follower-machine.ts';
import type { FollowerStatus } from './follower-tracker.ts';
import { FollowerReplication } from './follower.ts';
import { LeaderReplication, type StreamParams } from './leader.ts';
import { writeNodeMeta, type NodeMeta } from './node-meta.ts';
import type { RetentionLog } from './retention-log.ts';
import { appendTerm } from './term-history.ts';

/** What the node needs of the control plane (cluster/control/metadata-client.ts is the real one). */
export interface ControlClient {
  /** The newest metadata the node has seen. */
  readonly metadata: Metadata;
  propose(command: Command): Promise<Metadata>;
  lease(shard: string, term: number): Promise<number>;
  refresh(): void;
}

export interface ControllerOptions {
  address: string;
  dataDir: string;
  /** The file-system seam the node state is written through (the engine's). */
  fileSystem: FileSystem;
  holder: DbHolder;
  meta: NodeMeta;
  /** The metadata to route by until the control plane answers (cluster.toml's, at version 0, on a first start). */
  initial: Metadata;
  options: Readonly<ReplicationOptions>;
  control: Readonly<ControlOptions>;
  /** Largest frame a stream may carry (from the value and batch limits). */
  frameBytesMax: number;
  batchOpsMax: number;
  peers: Peers;
  client: ControlClient;
  log: Log;
  now?: () => number;
}

/** What /metrics exports of replication (cluster/metrics.ts); `status()` is the JSON view. */
export interface ReplicationFigures {
  role: string;
  term: number;
  metadataVersion: number;
  leader?: { lastSeq: number; followers: FollowerStatus[]; waitingWrites: number; leaseValid: boolean };
  follower?: { leader: string; applied: number; leaderSeq: number; connected: boolean };
}

export interface ElectionReport {
  shard: string;
  leader: string;
  term: number;
  previous: string;
  metadataVersion: number;
}

export class ReplicationController {
  private state: NodeState;
  private meta: NodeMeta;
  private metadata: Metadata;
  private leader: LeaderReplication | undefined;
  private follower: FollowerReplication | undefined;
  private serial: Promise<unknown> = Promise.resolve();
  private saves: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(state: NodeState) => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private pass: Promise<PassReport> | undefined;
  /** A leader's part in a migration: copying keys into its shard, cleaning up the ones it gave. */
  private migration: { receiver: MigrationReceiver; cleaner: MigrationCleaner } | undefined;
  private stopped = false;
  /** Whether a controller answered in this process (metadataConfirmed). */
  private confirmed = false;
  private readonly now: () => number;

  constructor(private readonly o: ControllerOptions) {
    this.meta = o.meta;
    this.metadata = o.initial;
    this.now = o.now ?? (() => performance.now());
    this.state = nodeStateFor(topologyOf(o.initial), o.address);
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

  /**
   * Whether the node does its job now: the control plane has answered (committed metadata), and
   * a leader holds its lease, a replica is not installing a snapshot. `waiting` says for what.
   */
  readiness(): { ready: boolean; waiting?: string } {
    if (this.metadata.version === 0) return { ready: false, waiting: 'the control plane (no committed metadata yet)' };
    if (this.state.role === 'unassigned' && !this.metadata.unassigned.includes(this.o.address)) return { ready: false, waiting: 'its registration as an unassigned node' };
    if (this.state.role === 'leader' && !this.leader?.leaseValid()) return { ready: false, waiting: 'a lease from the control plane' };
    if (this.follower?.isInstalling) return { ready: false, waiting: 'a snapshot install to finish' };
    return { ready: true };
  }

  /** Takes the role the initial metadata gives, and starts the periodic tasks. */
  async start(): Promise<void> {
    await this.run(() => this.adopt(this.metadata));
    if (this.o.options.antiEntropyIntervalMs > 0) {
      const timer = setInterval(() => {
        if (this.state.role === 'leader') this.antiEntropy().catch((error: unknown) => this.o.log('warn', 'anti-entropy pass failed', errorFields(error)));
      }, this.o.options.antiEntropyIntervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** A newer committed metadata (from the control plane); resolves once the node has taken the role it gives. */
  onMetadata(metadata: Metadata): Promise<void> {
    return this.run(async () => {
      if (metadata.version <= this.metadata.version && this.metadata.version > 0) return;
      await this.adopt(metadata);
    }).catch((error: unknown) => this.o.log('error', 'could not take the role the metadata gives', { version: metadata.version, ...errorFields(error) }));
  }

  /**
   * A controller answered in this process (MetadataClient.onConfirmed). Until then this node acts
   * on the metadata it cached before a restart, which may be far behind: it may lead or follow by
   * it (a leader takes no client write without a lease at the current term), but its migration
   * loops, which delete keys on their own judgement of the metadata (bugs-reshard #8), wait.
   */
  metadataConfirmed(): Promise<void> {
    return this.run(async () => {
      this.confirmed = true;
      this.updateMigration();
    });
  }

  /** Ends streams, fails waiting writes, stops following. The engine stays open. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.leader?.stop();
    await this.follower?.stop();
  }

  /** Throws (nothing is written) if this node may not take the write now: not the leader, no lease, too few in sync for acks=all. */
  checkWrite(acks: Acks): void {
    this.requireLeader().checkWrite(acks);
  }

  /** Waits until the write at `seq` is confirmed as `acks` asks; throws if leadership or the lease was lost first. */
  async confirmWrite(seq: number, acks: Acks): Promise<void> {
    const leader = this.leader;
    if (!leader) throw new ClusterError('UNCONFIRMED', `the write at seq ${seq} is in this node's log, but the node lost its leadership before acknowledging it; it may or may not survive`);
    await leader.confirm(seq, acks);
  }

  /**
   * A linearizable leader read: the engine is read at a snapshot, and the answer waits until the
   * in-sync set has applied everything that snapshot holds, under a valid lease.
   */
  async leaderRead<T>(read: (snapshot: Snapshot) => Promise<T>): Promise<T> {
    const leader = this.requireLeader();
    const snapshot = this.o.holder.db.snapshot();
    try {
      const value = await read(snapshot);
      await leader.readBarrier(snapshot.seq);
      return value;
    } finally {
      snapshot.release();
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

  /** Streams a migration's moving keys to the receiving shard's leader (cluster/migration/giver.ts). */
  serveMigration(res: ServerResponse, params: MoveStreamParams, writeHead: () => void): Promise<void> {
    const leader = this.requireLeader();
    const shard = this.myShard().name;
    return streamMove({
      address: this.o.address, db: this.o.holder.db, leader, gate: this.o.holder.gate, shard,
      metadata: () => this.metadata, heartbeatIntervalMs: this.o.options.heartbeatIntervalMs, log: this.o.log, now: this.now,
    }, res, writeHead, params);
  }

  report(node: string, term: number, applied: number, checkpoint: number | undefined): void {
    this.requireLeader().report(node, term, applied, checkpoint);
  }

  /** Proposes this node as its shard's leader (clean: it must be in sync, and the old lease must have ended). */
  promote(unclean: boolean): Promise<ElectionReport> {
    return this.run(async () => {
      const shard = this.myShard();
      if (shard.leader === this.o.address) throw new ClusterError('NOT_PROMOTABLE', `${this.o.address} already leads ${shard.name} at term ${shard.term}`);
      if (this.follower?.isInstalling) throw new ClusterError('NOT_PROMOTABLE', `${this.o.address} is installing a snapshot; its data is partial`);
      const command = unclean ? { type: 'elect' as const, shard: shard.name, leader: this.o.address, expectTerm: shard.term, inSync: [this.o.address], unclean: true } : electCommand(shard, this.o.address);
      if (unclean) this.o.log('warn', 'unclean promotion: acknowledged writes this node lacks are lost', { shard: shard.name, previous: shard.leader, term: shard.term });
      return this.elected(shard, await this.o.client.propose(command));
    });
  }

  /**
   * Hands this node's leadership to `to` (default: the in-sync follower that applies everything
   * first): stop taking writes and leader reads, wait until it has applied everything, then
   * propose it.
   */
  transfer(to: string | undefined): Promise<ElectionReport> {
    return this.run(async () => {
      const shard = this.myShard();
      const leader = this.requireLeader();
      const candidate = to ?? this.bestFollower(leader, shard);
      if (!candidate || !shard.inSync.includes(candidate) || candidate === this.o.address) {
        throw new ClusterError('NOT_IN_SYNC', `cannot hand ${shard.name} over to ${candidate ?? 'anyone'}: the in-sync followers are ${shard.inSync.filter((n) => n !== this.o.address).join(', ') || 'none'}`);
      }
      leader.fence();
      try {
        // Without `to`, the choice waits for the fence: it switches followers to a report after
        // every run, while positions from before it may be an interval stale (report cadence,
        // docs/replication.md), and the follower that applied "the most" by them may not be.
        const target = await this.catchUp(leader, shard, to);
        return this.elected(shard, await this.o.client.propose(electCommand(shard, target, true)));
      } catch (error) {
        await this.unfenceIfStillLeading(leader, shard);
        throw error;
      }
    });
  }

  /** An operator's metadata command (a shard add or remove), passed to the control plane. */
  proposeAdmin(command: Extract<Command, { type: 'shard-add' | 'shard-remove' }>): Promise<Metadata> {
    return this.o.client.propose(command);
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
      term: this.state.shard?.term ?? null,
      metadataVersion: this.metadata.version,
      dataTerm: this.meta.dataTerm,
      history: this.meta.history,
      readable: this.state.replicaReadable,
      ...(this.leader && { leader: { ...this.leader.status(), leaseValid: this.leader.leaseValid() } }),
      ...(this.follower && { follower: this.follower.status() }),
      ...(this.migration && { migration: { receiving: this.migration.receiver.status(), keysCleaned: this.migration.cleaner.deleted } }),
    };
  }

  figures(): ReplicationFigures {
    const leader = this.leader;
    const follower = this.follower?.status();
    return {
      role: this.state.role,
      term: this.state.shard?.term ?? 0,
      metadataVersion: this.metadata.version,
      leader: leader && { lastSeq: leader.retention.lastSeq, followers: leader.followers(), waitingWrites: leader.waitingWrites, leaseValid: leader.leaseValid() },
      follower: follower && { leader: this.state.shard?.leader ?? '', applied: follower.applied as number, leaderSeq: follower.leaderSeq as number, connected: follower.connected as boolean },
    };
  }

  /** Becomes what `metadata` says this node is. Runs under `serial`. */
  private async adopt(metadata: Metadata): Promise<void> {
    if (this.stopped) return;
    const place = locateNode(metadata, this.o.address);
    if (place && this.meta.shard !== null && place.shard.name !== this.meta.shard) {
      throw new ClusterError('CONFIG_INVALID', `the metadata puts ${this.o.address} in shard ${place.shard.name}, but its data belongs to shard ${this.meta.shard}`);
    }
    this.metadata = metadata;
    const next = nodeStateFor(topologyOf(metadata), this.o.address, this.state.replicaReadable);
    // In the same tick as the metadata: a migration step it takes is in force at the gate before anything acts on it.
    this.o.holder.gate.setFence(place ? ownershipFence(next) : undefined);
    // The node state caches the metadata when this node's place in it changed, in the same write as what the change implies.
    const cache: Partial<NodeMeta> = metadata.version > 0 && this.placeChanged(metadata) ? { metadata } : {};
    if (!place) await this.beUnassigned(cache);
    else if (place.leads) await this.beLeader(place.shard, cache);
    else await this.beFollower(place.shard, cache);
    this.publish({ ...next, replicaReadable: this.state.replicaReadable });
    this.updateMigration();
  }

  private updateMigration(): void {
    if (!this.confirmed) return;
    this.migration?.receiver.update();
    this.migration?.cleaner.update();
  }

  private async beLeader(shard: ShardMeta, cache: Partial<NodeMeta>): Promise<void> {
    const followers = shard.members.filter((n) => n !== this.o.address);
    const inSync = shard.inSync.filter((n) => n !== this.o.address);
    if (this.leader && this.leader.term === shard.term) {
      if (cache.metadata) await this.saveMeta(cache);
      return this.leader.setMembers(followers, inSync);
    }
    const inherited = this.follower?.retained();
    await this.follower?.stop();
    this.follower = undefined;
    // Elected again at a later term, or first elected: the earlier leadership's parts stop before new ones start.
    this.leader?.stop();
    this.stopMigration();
    const lastSequence = this.o.holder.db.lastSequence;
    const history = (this.meta.history.at(-1)?.term ?? 0) < shard.term ? appendTerm(this.meta.history, shard.term, lastSequence) : this.meta.history;
    await this.saveMeta({ ...cache, shard: shard.name, history, dataTerm: shard.term });
    this.o.holder.gate.open();
    this.leader = new LeaderReplication({
      db: this.o.holder.db, options: this.o.options, address: this.o.address, shard: shard.name, term: shard.term, history,
      followers, inSync, leaseRenewMs: this.o.control.leaseRenewMs, log: this.o.log, now: this.now,
      control: {
        lease: (name, term) => this.o.client.lease(name, term),
        setInSync: async (name, term, set) => (await this.o.client.propose({ type: 'set-in-sync', shard: name, term, inSync: set })).shards.find((s) => s.name === name)!.inSync,
        refresh: () => this.o.client.refresh(),
      },
    }, inherited);
    const leader = this.leader;
    const context = { shard: shard.name, db: () => this.o.holder.db, gate: this.o.holder.gate, metadata: () => this.metadata, log: this.o.log };
    const propose = (command: Command) => this.o.client.propose(command);
    this.migration = {
      receiver: new MigrationReceiver({ ...context, address: this.o.address, leader, peers: this.o.peers, propose, frameBytesMax: this.o.frameBytesMax, now: this.now }),
      cleaner: new MigrationCleaner({ ...context, leader, propose }),
    };
    this.o.log('info', 'leading the shard', { shard: shard.name, term: shard.term, lastSequence, inSync: shard.inSync });
  }

  private async beFollower(shard: ShardMeta, cache: Partial<NodeMeta>): Promise<void> {
    await this.stopLeading(shard.leader);
    if (this.meta.shard !== shard.name || cache.metadata) await this.saveMeta({ ...cache, shard: shard.name });
    if (this.follower) return this.follower.follow(shard.leader, shard.term);
    this.follower = new FollowerReplication({
      holder: this.o.holder, options: this.o.options, address: this.o.address, peers: this.o.peers, log: this.o.log,
      now: this.now, frameBytesMax: this.o.frameBytesMax, leader: shard.leader, term: shard.term,
      meta: () => this.meta,
      saveMeta: (change: MetaChange) => this.saveMeta(change),
      setReadable: (readable) => this.publish({ ...this.state, replicaReadable: readable }),
      refreshMetadata: () => this.o.client.refresh(),
    });
    this.follower.start();
  }

  private async beUnassigned(cache: Partial<NodeMeta>): Promise<void> {
    await this.stopLeading(undefined);
    await this.follower?.stop();
    this.follower = undefined;
    if (cache.metadata) await this.saveMeta(cache);
    if (this.metadata.version > 0 && this.meta.shard !== null) await this.leaveShard();
    if (this.metadata.version > 0 && !this.metadata.unassigned.includes(this.o.address)) {
      this.o.client.propose({ type: 'register', node: this.o.address }).then(
        () => this.o.log('info', 'joined the cluster as an unassigned node; a shard add can name it'),
        (error: unknown) => this.o.log('warn', 'could not register with the control plane', errorFields(error)),
      );
    }
  }

  /**
   * The committed metadata took this node out of its shard (the shard was removed; its keys
   * live on other shards now): empty the engine, so the node can join another shard later.
   * The install mark makes the wipe crash-safe (open-node.ts opens a marked engine empty).
   */
  private async leaveShard(): Promise<void> {
    const shard = this.meta.shard;
    await this.saveMeta({ installing: true });
    await this.o.holder.wipe();
    await this.saveMeta({ shard: null, history: [], dataTerm: 0, installing: false });
    this.o.log('info', 'left the shard and emptied the engine; a shard add can name this node', { shard });
  }

  /** Stops leading (if it did): no client write may reach the engine; the ones already there finish first. */
  private async stopLeading(newLeader: string | undefined): Promise<void> {
    if (!this.leader) return;
    this.leader.stop();
    this.leader = undefined;
    this.stopMigration();
    this.o.holder.gate.shut(() => this.notLeader(`${this.o.address} no longer leads${newLeader ? `; its shard's leader is ${newLeader}` : ''}`));
    await this.o.holder.gate.settled();
    this.o.log('info', 'stopped leading the shard', { newLeader: newLeader ?? null });
  }

  /**
   * Ends the migration parts of the leadership that just stopped. Not awaited: a loop may be
   * waiting on its stream for a while, and it can no longer write or propose anything (its
   * leadership is stopped; the receiver and the cleaner check that as each write reaches the
   * engine, and the metadata refuses a step of an earlier term).
   */
  private stopMigration(): void {
    void this.migration?.receiver.stop();
    void this.migration?.cleaner.stop();
    this.migration = undefined;
  }

  /** Whether this node's shard, its leader or its term differ from what the node state last cached. */
  private placeChanged(metadata: Metadata): boolean {
    const before = this.meta.metadata && locateNode(this.meta.metadata, this.o.address)?.shard;
    const after = locateNode(metadata, this.o.address)?.shard;
    return before?.name !== after?.name || before?.leader !== after?.leader || before?.term !== after?.term || before?.members.join() !== after?.members.join();
  }

  private elected(before: ShardMeta, metadata: Metadata): ElectionReport {
    const after = metadata.shards.find((s) => s.name === before.name)!;
    return { shard: after.name, leader: after.leader, term: after.term, previous: before.leader, metadataVersion: metadata.version };
  }

  private bestFollower(leader: LeaderReplication, shard: ShardMeta): string | undefined {
    const followers = leader.followers().filter((f) => shard.inSync.includes(f.node) && f.connected);
    followers.sort((a, b) => b.applied - a.applied);
    return followers[0]?.node;
  }

  /**
   * Waits until `target` has applied everything this fenced leader wrote; without one, until the
   * connected in-sync follower that applied the most has. Returns whom it waited for.
   */
  private async catchUp(leader: LeaderReplication, shard: ShardMeta, target: string | undefined): Promise<string> {
    const deadline = this.now() + TRANSFER_CATCH_UP_MS_MAX;
    for (;;) {
      const last = this.o.holder.db.lastSequence;
      const node = target ?? this.bestFollower(leader, shard);
      const applied = leader.followers().find((f) => f.node === node)?.applied ?? 0;
      if (node && applied >= last) return node;
      if (this.now() > deadline) throw new ClusterError('NOT_IN_SYNC', `${node ?? 'no in-sync follower'} did not catch up within ${TRANSFER_CATCH_UP_MS_MAX} ms (at ${applied} of ${last}); leadership stays here`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * After a handover that failed: take writes again only if the metadata shows this node still
   * leads at the same term. An answer that was lost may hide a committed election: then the
   * node stays fenced until the metadata demotes it.
   */
  private async unfenceIfStillLeading(leader: LeaderReplication, shard: ShardMeta): Promise<void> {
    this.o.client.refresh();
    await new Promise((resolve) => setTimeout(resolve, this.o.control.leaseRenewMs));
    const now = locateNode(this.o.client.metadata, this.o.address)?.shard;
    if (now && now.leader === this.o.address && now.term === shard.term && this.leader === leader) leader.unfence();
  }

  private myShard(): ShardMeta {
    const place = locateNode(this.metadata, this.o.address);
    if (!place) throw new ClusterError('NOT_PROMOTABLE', `${this.o.address} belongs to no shard (metadata version ${this.metadata.version})`);
    return place.shard;
  }

  private requireLeader(): LeaderReplication {
    if (this.state.role === 'leader' && this.leader) return this.leader;
    throw this.notLeader(`${this.o.address} does not lead ${this.state.shard?.name ?? 'any shard'}`);
  }

  private requireFollower(): FollowerReplication {
    if (this.follower) return this.follower;
    throw new ClusterError('NO_CHECKPOINT', `${this.o.address} is not following a leader`);
  }

  private notLeader(message: string): ClusterError {
    const shard = this.state.shard;
    return new ClusterError('NOT_LEADER', shard ? `${message}; ${shard.name} is led by ${shard.leader} at term ${shard.term}` : message);
  }

  /**
   * Saves a change to the node state. Saves come from role changes (under `serial`) and from
   * the follower's work (not under it), so they queue here: each applies its change to the
   * state as the previous save left it, and one temp file is never written by two at once.
   */
  private saveMeta(change: Partial<NodeMeta>): Promise<void> {
    const save = this.saves.then(async () => {
      const next = Object.freeze({ ...this.meta, ...change });
      await writeNodeMeta(this.o.fileSystem, this.o.dataDir, next);
      this.meta = next;
    });
    this.saves = save.catch(() => undefined);
    return save;
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
