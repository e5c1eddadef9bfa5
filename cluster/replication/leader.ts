/**
 * The leader's half of replication: the I/O shell around LeaderMachine (leader-machine.ts,
 * where the rules live). It feeds the machine the engine's commits (the commit listener), the
 * follower streams' opens, backpressure and closes, position reports, acks=all waits and a
 * heartbeat tick, with the time; and it carries out each Ready: writes frames (all of one
 * stream's in one socket write), takes engine snapshots and writes their chunks, ends streams,
 * settles waiting writes.
 *
 * Concurrency: everything runs on the event loop. `step` may be called while a Ready is being
 * carried out (a write that fills a socket steps `blocked`); the machine queues what that
 * produces and the ReadyLoop takes it on its next turn, never recursively. The commit
 * listener runs synchronously inside the engine's commit, so the retention log ends at the
 * engine's last sequence number (the machine's invariant).
 */
import type { ServerResponse } from 'node:http';
import type { Db, Snapshot } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { encodeFrame, encodePreamble, type TermEntry } from '../../protocol/frame-format.ts';
import { SNAPSHOT_CHUNK_ENTRIES_MAX } from '../../protocol/limits.ts';
import type { Acks, ReplicationOptions } from '../../protocol/replication-options.ts';
import { ACK_WAITERS_MAX, STREAM_QUEUED_BYTES_MAX } from '../limits.ts';
import type { Log } from '../log.ts';
import type { FollowerStatus } from './follower-tracker.ts';
import { LeaderMachine, type LeaderEvent, type LeaderReady } from './leader-machine.ts';
import type { Refusal } from './machine-types.ts';
import { ReadyLoop } from './ready-loop.ts';
import type { RetentionLog } from './retention-log.ts';

/** What a leader needs of the control plane (cluster/control/metadata-client.ts). */
export interface LeaderControl {
  /** A lease for this node at `term`: its length in ms, counted from before the call. */
  lease(shard: string, term: number): Promise<number>;
  /** Commits a new in-sync set for `shard` at `term`; resolves to the shard's committed in-sync set. */
  setInSync(shard: string, term: number, inSync: readonly string[]): Promise<readonly string[]>;
  /** Fetches the metadata now (something showed it stale). */
  refresh(): void;
}

export interface LeaderContext {
  db: Db;
  options: Readonly<ReplicationOptions>;
  address: string;
  shard: string;
  term: number;
  history: readonly TermEntry[];
  /** The shard's other members, and those of them in the committed in-sync set. */
  followers: readonly string[];
  inSync: readonly string[];
  /** How often the lease is asked for again. */
  leaseRenewMs: number;
  control: LeaderControl;
  log: Log;
  now(): number;
}

export interface StreamParams {
  node: string;
  from: number;
  term: number;
  dataTerm: number;
}

interface OpenStream {
  res: ServerResponse;
  /** Sends the response head; called just before the first bytes. */
  writeHead: (() => void) | undefined;
}

export class LeaderReplication {
  private readonly machine: LeaderMachine;
  private readonly loop: ReadyLoop<LeaderReady>;
  private readonly streams = new Map<number, OpenStream>();
  private readonly waiters = new Map<number, { resolve(): void; reject(error: ClusterError): void }>();
  private readonly unsubscribe: () => void;
  private readonly ticker: NodeJS.Timeout;
  private readonly leaseTimer: NodeJS.Timeout;
  private leaseFailures = 0;
  private readonly createdMs: number;
  private renewing = false;
  private leaseGranted = false;
  private nextId = 1;

  /** `inherited`: the retention log this node kept as a follower, used if it ends where the engine does. */
  constructor(private readonly context: LeaderContext, inherited?: RetentionLog) {
    const { db, options } = context;
    this.createdMs = context.now();
    this.machine = new LeaderMachine({
      address: context.address, minInsync: options.minInsync, replicaLagMaxMs: options.replicaLagMaxMs, ackTimeoutMs: options.ackTimeoutMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs, retentionBytesMax: options.retentionBytesMax, retentionBatchesMax: options.retentionBatchesMax,
      waitersMax: ACK_WAITERS_MAX, queuedBytesMax: STREAM_QUEUED_BYTES_MAX,
    }, { nowMs: context.now(), lastSeq: db.lastSequence, term: context.term, history: context.history, followers: context.followers, inSync: context.inSync, inherited });
    this.loop = new ReadyLoop(this.machine, (ready) => this.carryOut(ready));
    // One synchronous step with the machine's creation: no commit falls between them.
    this.unsubscribe = db.onCommit((first, last, batch) => this.step({ type: 'commit', first, last, batch }));
    this.ticker = setInterval(() => this.step({ type: 'tick' }), options.heartbeatIntervalMs);
    this.ticker.unref();
    this.leaseTimer = setInterval(() => void this.renewLease(), context.leaseRenewMs);
    this.leaseTimer.unref();
    void this.renewLease();
  }

  get term(): number {
    return this.context.term;
  }

  get retention(): RetentionLog {
    return this.machine.retention;
  }

  /** Refuses a write up front without a lease, or, for acks=all, with too few members in sync. */
  checkWrite(acks: Acks): void {
    throwIf(this.machine.checkWrite(acks === 'all', this.context.now()));
  }

  /**
   * Resolves once the write at `seq` is confirmed as `acks` asks: acks=all, once the in-sync set
   * applied it; acks=1, at once if the lease still holds (a write made after it lapsed may be
   * lost to a new leader: it is refused, though it is in this node's log).
   */
  confirm(seq: number, acks: Acks): Promise<void> {
    if (acks === 'all') return this.waitFor('wait', seq);
    if (acks === 1 && !this.machine.leaseValid(this.context.now())) {
      // In the log already: not LEASE_EXPIRED (which promises nothing was written) but UNCONFIRMED.
      return Promise.reject(new ClusterError('UNCONFIRMED', `the write at seq ${seq} is in this node's log, but its lease lapsed before it was acknowledged; it may or may not survive`));
    }
    return Promise.resolve();
  }

  /** Resolves once a read that saw the engine at `seq` may be answered (linearizable leader reads). */
  readBarrier(seq: number): Promise<void> {
    // The common case, decided at once by the machine's rule: no waiter, no Ready.
    if (this.machine.readableNow(seq, this.context.now())) return Promise.resolve();
    return this.waitFor('read', seq);
  }

  /** The committed metadata of this term changed: the shard's members or its in-sync set. */
  setMembers(followers: readonly string[], inSync: readonly string[]): void {
    this.step({ type: 'members', followers, inSync });
  }

  private waitFor(type: 'wait' | 'read', seq: number): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
      const refusal = this.step({ type, id, seq });
      if (refusal) {
        this.waiters.delete(id);
        reject(toError(refusal));
      }
    });
  }

  /** Asks the control plane for the lease again; counted from before the call, on this node's clock. */
  private async renewLease(): Promise<void> {
    // A leader handing over lets its lease run out: the control plane may then elect anyone.
    if (this.machine.isStopped || this.machine.isFenced) return;
    // One renewal at a time: a slow control plane must not collect a pile of them from each leader.
    if (this.renewing) return;
    this.renewing = true;
    const askedMs = this.context.now();
    try {
      const leaseMs = await this.context.control.lease(this.context.shard, this.context.term);
      // The moment a new leader becomes writable: failover time (docs/failover.md) is read from this line.
      if (!this.leaseGranted) this.context.log('info', 'holding its first lease', { shard: this.context.shard, term: this.context.term, msSinceLeading: Math.round(this.context.now() - this.createdMs), refusedBefore: this.leaseFailures });
      this.leaseFailures = 0;
      this.leaseGranted = true;
      this.step({ type: 'lease', untilMs: askedMs + leaseMs });
    } catch (error) {
      if ((error as ClusterError).code === 'STALE_TERM') this.context.control.refresh();
      // Before the first grant, failures are the control plane still starting: a warning only if they go on.
      const level = this.leaseGranted || this.leaseFailures >= 20 ? 'warn' : 'debug';
      if (this.leaseFailures++ % 20 === 0) this.context.log(level, 'lease not renewed', { shard: this.context.shard, term: this.context.term, failures: this.leaseFailures, error: (error as Error).message });
    } finally {
      this.renewing = false;
    }
  }

  private async proposeInSync(followers: readonly string[]): Promise<void> {
    try {
      const inSync = await this.context.control.setInSync(this.context.shard, this.context.term, [this.context.address, ...followers]);
      this.step({ type: 'members', followers: this.machine.memberFollowers(), inSync: inSync.filter((n) => n !== this.context.address) });
    } catch (error) {
      if ((error as ClusterError).code === 'STALE_TERM') this.context.control.refresh();
      this.step({ type: 'in-sync-failed', reason: (error as Error).message });
    }
  }

  /** Serves one follower's stream until it ends. Throws (before any byte) if the machine refuses it. */
  async serveStream(res: ServerResponse, params: StreamParams, writeHead: () => void): Promise<void> {
    const id = this.nextId++;
    const closed = new Promise<void>((resolve) => res.once('close', resolve));
    this.streams.set(id, { res, writeHead });
    const refusal = this.step({ type: 'open', stream: id, ...params });
    if (refusal) {
      this.streams.delete(id);
      throw toError(refusal);
    }
    await closed;
    this.streams.delete(id);
    this.step({ type: 'closed', stream: id });
  }

  /** A follower's position report. Throws what the machine refuses (STALE_TERM, BAD_REQUEST). */
  report(node: string, term: number, applied: number, checkpoint: number | undefined): void {
    throwIf(this.step({ type: 'report', node, term, applied, checkpoint }));
  }

  /** Asks every open stream for a checkpoint frame after `seq`; returns the followers asked. */
  requestCheckpoints(seq: number): string[] {
    this.step({ type: 'checkpoints', seq });
    return this.machine.openStreams().map((s) => s.node);
  }

  get waitingWrites(): number {
    return this.machine.waitingWrites;
  }

  /** The committed in-sync set's followers. */
  inSyncFollowers(): string[] {
    return this.machine.inSyncFollowers();
  }

  followers(): FollowerStatus[] {
    return this.machine.followers(this.context.now());
  }

  status(): Record<string, unknown> {
    const retention = this.machine.retention;
    return {
      retention: { servableFrom: retention.servableFrom, lastSeq: retention.lastSeq, batches: retention.size, bytes: retention.bytes },
      followers: this.followers().map((f) => ({ ...f, lagMs: Number.isFinite(f.lagMs) ? Math.round(f.lagMs) : null })),
      waitingWrites: this.machine.waitingWrites,
    };
  }

  /** Stops taking writes and serving leader reads: leadership is being handed over. */
  fence(): void {
    this.step({ type: 'fence', on: true });
  }

  unfence(): void {
    this.step({ type: 'fence', on: false });
  }

  /** A migration stream giving keys away opened (true) or closed (false): followers report after every run meanwhile. */
  giving(on: boolean): void {
    this.step({ type: 'giving', on });
  }

  get isStopped(): boolean {
    return this.machine.isStopped;
  }

  /** Whether the lease holds now. */
  leaseValid(): boolean {
    return this.machine.leaseValid(this.context.now());
  }

  /** The highest sequence number every member of the in-sync set has applied. */
  highWatermark(): number {
    return this.machine.highWatermark();
  }

  /** Ends every stream and fails every waiting write; the node is no longer this term's leader. */
  stop(): void {
    if (this.machine.isStopped) return;
    this.unsubscribe();
    clearInterval(this.ticker);
    clearInterval(this.leaseTimer);
    this.step({ type: 'stop' });
  }

  private step(event: LeaderEvent): Refusal | undefined {
    const refusal = this.machine.step(event, this.context.now());
    this.loop.flush();
    return refusal;
  }

  private carryOut(ready: LeaderReady): void {
    for (const line of ready.logs) this.context.log(line.level, line.message, line.fields);
    this.writeFrames(ready);
    for (const { stream } of ready.snapshots) this.startSnapshot(stream);
    for (const stream of ready.closes) {
      const open = this.streams.get(stream);
      this.streams.delete(stream);
      if (open && !open.res.writableEnded) open.res.end();
    }
    for (const { id, refusal } of ready.settled) {
      const waiter = this.waiters.get(id);
      this.waiters.delete(id);
      if (refusal) waiter?.reject(toError(refusal));
      else waiter?.resolve();
    }
    if (ready.refreshMetadata) this.context.control.refresh();
    if (ready.proposeInSync) void this.proposeInSync(ready.proposeInSync);
  }

  /** One socket write per stream per Ready: frames of a stream are concatenated. */
  private writeFrames(ready: LeaderReady): void {
    const byStream = new Map<number, Uint8Array[]>();
    for (const { stream, frame } of ready.frames) {
      let list = byStream.get(stream);
      if (!list) byStream.set(stream, (list = []));
      list.push(encodeFrame(frame));
    }
    for (const [stream, frames] of byStream) {
      if (!this.write(stream, frames.length === 1 ? frames[0]! : Buffer.concat(frames))) this.block(stream);
    }
  }

  /** Writes to a stream (its head and preamble first); false when the socket buffer is full. */
  private write(stream: number, bytes: Uint8Array): boolean {
    const open = this.streams.get(stream);
    if (!open || open.res.writableEnded || open.res.destroyed) return true;
    if (open.writeHead) {
      open.writeHead();
      open.writeHead = undefined;
      open.res.write(encodePreamble());
    }
    return open.res.write(bytes);
  }

  private block(stream: number): void {
    const open = this.streams.get(stream);
    if (!open) return;
    this.step({ type: 'blocked', stream });
    open.res.once('drain', () => this.step({ type: 'drained', stream }));
  }

  /** Takes the engine snapshot a snapshot plan needs, then writes its chunks as the socket drains. */
  private startSnapshot(stream: number): void {
    const snapshot = this.context.db.snapshot();
    this.step({ type: 'snapshot-taken', stream, seq: snapshot.seq });
    void this.sendSnapshot(stream, snapshot)
      .catch((error: unknown) => {
        this.context.log('warn', 'snapshot transfer failed; ending the stream', { error: (error as Error).message });
        this.streams.get(stream)?.res.destroy();
      })
      .finally(() => snapshot.release());
  }

  private async sendSnapshot(stream: number, snapshot: Snapshot): Promise<void> {
    const chunkBytes = this.context.options.snapshotChunkBytes;
    let entries: Uint8Array[] = [];
    let bytes = 0;
    let count = 0;
    for await (const [key, value] of this.context.db.iterator({ snapshot })) {
      if (!this.streams.has(stream)) return;
      entries.push(key, value);
      bytes += key.length + value.length;
      count++;
      // A chunk ends at its byte size, or at the entries a follower takes in one frame (tiny keys).
      if (bytes >= chunkBytes || count % SNAPSHOT_CHUNK_ENTRIES_MAX === 0) {
        await this.writeChunk(stream, entries);
        entries = [];
        bytes = 0;
      }
    }
    if (entries.length > 0) await this.writeChunk(stream, entries);
    if (this.streams.has(stream)) this.step({ type: 'snapshot-sent', stream, seq: snapshot.seq, count });
  }

  private async writeChunk(stream: number, entries: Uint8Array[]): Promise<void> {
    if (this.write(stream, encodeFrame({ type: 'snapshot-chunk', term: this.machine.currentTerm, entries }))) return;
    const res = this.streams.get(stream)?.res;
    if (!res) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
}

function toError(refusal: Refusal): ClusterError {
  return new ClusterError(refusal.code, refusal.message);
}

function throwIf(refusal: Refusal | undefined): void {
  if (refusal) throw toError(refusal);
}
