/**
 * The follower's half of replication, an I/O shell: it keeps one stream open to its shard's
 * leader, from its engine's own last sequence number + 1 (so its position survives restarts
 * with no file of its own), applies each batch with the leader's sequence numbers, reports its
 * position after each, installs snapshots, and pins checkpoint snapshots for anti-entropy.
 *
 * It also keeps the batches it applied in a retention log of its own, so that if it is
 * promoted, the other followers can resume from their positions instead of taking snapshots.
 *
 * Snapshot install, crash-safe: mark `installing` in the node state (durably), empty the
 * engine, write the entries, move the sequence number to the snapshot's (durably), clear the
 * mark. A crash in between leaves the mark set, and the next start empties the engine again
 * before following, so partial data is never taken for a position. While installing, the node
 * is not readable: replica reads go to the leader.
 *
 * Concurrency: `run` is the only writer to the engine. Position reports go out one at a time
 * (a newer one is sent when the previous returns). Nothing here waits on the controller's
 * lock: topology fetches are started, not awaited, so `stop` (called under that lock) can
 * always finish.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Snapshot } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { errorFields, type Log } from '../log.ts';
import type { NodeState } from '../node-state.ts';
import type { DbHolder } from './db-holder.ts';
import { newerHistory, type EpochEntry } from './epoch-history.ts';
import { FrameDecoder, type Frame } from '../../protocol/frame-format.ts';
import type { NodeMeta } from './node-meta.ts';
import type { ReplicationOptions } from '../../protocol/replication-options.ts';
import { peerJson, type PeerClient } from './peer-http.ts';
import { RetentionLog } from './retention-log.ts';

export interface FollowerContext {
  holder: DbHolder;
  options: Readonly<ReplicationOptions>;
  address: string;
  peers: PeerClient;
  log: Log;
  now(): number;
  frameBytesMax: number;
  state(): NodeState;
  meta(): NodeMeta;
  saveMeta(change: Partial<NodeMeta>): Promise<void>;
  setReadable(readable: boolean): void;
  /** Starts fetching the topology from `address` and adopting it if newer; never awaited here. */
  learnFrom(address: string): void;
  /** Starts asking every node for a newer topology; never awaited here. */
  discover(): void;
}

interface Session {
  leader: string;
  epoch: number;
  snapshot?: { seq: number; count: number };
}

/** How long a checkpoint snapshot is kept for the leader's digest requests. */
const CHECKPOINT_KEEP_MS = 120_000;
const CONNECT_TIMEOUT_MS = 5_000;
const REPORT_TIMEOUT_MS = 5_000;
const RETRY_DELAY_MAX_MS = 1_000;
/** Batches applied as one run (one fsync with follower_sync), at most. */
const BATCHES_PER_RUN_MAX = 256;

type BatchFrame = Extract<Frame, { type: 'batch' }>;

export class FollowerReplication {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private abortCurrent: (() => void) | undefined;
  private session: Session | undefined;
  private leaderSeq = 0;
  private installing = false;
  private reporting = false;
  private reportAgain = false;
  private lastReportMs = 0;
  private checkpoint: { seq: number; snapshot: Snapshot; timer: NodeJS.Timeout } | undefined;
  private readonly waiters = new Set<{ seq: number; resolve(ok: boolean): void }>();
  private readonly counters = { batchesApplied: 0, snapshotsInstalled: 0, connections: 0 };
  private retention: RetentionLog;

  constructor(private readonly context: FollowerContext) {
    this.retention = this.newRetention();
  }

  /** The batches applied most recently, ending at the engine's last sequence number; a promoted node serves from it. */
  retained(): RetentionLog | undefined {
    return this.retention.lastSeq === this.context.holder.db.lastSequence ? this.retention : undefined;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops following and waits until nothing more is applied. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abortCurrent?.();
    await this.loop;
    this.releaseCheckpoint();
    for (const w of this.waiters) w.resolve(false);
    this.waiters.clear();
  }

  /** Drops the current stream (e.g. the shard has a new leader); the loop connects again. */
  reconnect(): void {
    this.abortCurrent?.();
  }

  get isInstalling(): boolean {
    return this.installing;
  }

  /** Whether the engine has applied `seq` (and is readable), waiting up to `waitMs` for it. */
  waitApplied(seq: number, waitMs: number): Promise<boolean> {
    if (this.applied(seq)) return Promise.resolve(true);
    if (waitMs <= 0 || this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), waitMs);
      const waiter = { seq, resolve: (ok: boolean) => finish(ok) };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(ok);
      };
      this.waiters.add(waiter);
    });
  }

  /** The checkpoint snapshot pinned at `seq`, if this follower holds one. */
  checkpointAt(seq: number): Snapshot | undefined {
    return this.checkpoint?.seq === seq ? this.checkpoint.snapshot : undefined;
  }

  status(): Record<string, unknown> {
    const applied = this.context.holder.db.lastSequence;
    return {
      leader: this.session?.leader ?? null,
      connected: this.session !== undefined,
      applied,
      leaderSeq: this.leaderSeq,
      lagSeq: Math.max(0, this.leaderSeq - applied),
      installing: this.installing,
      checkpoint: this.checkpoint?.seq ?? null,
      ...this.counters,
    };
  }

  private applied(seq: number): boolean {
    return !this.installing && this.context.holder.db.lastSequence >= seq;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.followOnce();
        failures = 0;
      } catch (error) {
        failures++;
        if (!this.stopped && (failures === 1 || failures % 20 === 0)) {
          this.context.log('warn', 'replication stream failed; reconnecting', { leader: this.context.state().shard.leader, failures, ...errorFields(error) });
        }
        // A leader that stays away may have been replaced while this node was not told.
        if (failures % 5 === 0) this.context.discover();
      } finally {
        this.session = undefined;
      }
      if (this.stopped) break;
      await delay(Math.min(RETRY_DELAY_MAX_MS, 25 * 2 ** Math.min(failures, 6)));
    }
  }

  private async followOnce(): Promise<void> {
    const { context } = this;
    const state = context.state();
    const leader = state.shard.leader;
    if (leader === context.address) return;
    if (context.meta().installing) await this.discardPartialInstall();
    const from = context.holder.db.lastSequence + 1;
    const query = `node=${encodeURIComponent(context.address)}&from=${from}&epoch=${state.topology.epoch}&data_epoch=${context.meta().dataEpoch}`;
    const { request, response } = await context.peers.openStream(leader, `/internal/replication/stream?${query}`, CONNECT_TIMEOUT_MS);
    this.counters.connections++;
    this.abortCurrent = () => request.destroy();
    let lastDataMs = context.now();
    const watchdog = setInterval(() => {
      if (context.now() - lastDataMs > context.options.heartbeatIntervalMs * 8) request.destroy(new Error('no frame from the leader for 8 heartbeat intervals'));
    }, context.options.heartbeatIntervalMs * 2);
    try {
      if (response.statusCode !== 200) await this.refused(leader, response);
      const decoder = new FrameDecoder(context.frameBytesMax);
      for await (const chunk of response as AsyncIterable<Buffer>) {
        lastDataMs = context.now();
        decoder.push(chunk);
        await this.handleAll(decoder, leader);
        if (this.stopped) break;
      }
    } finally {
      clearInterval(watchdog);
      this.abortCurrent = undefined;
      request.destroy();
    }
  }

  private async refused(leader: string, response: import('node:http').IncomingMessage): Promise<never> {
    const chunks: Buffer[] = [];
    for await (const chunk of response as AsyncIterable<Buffer>) if (chunks.length < 16) chunks.push(chunk);
    const epoch = Number(response.headers['x-epoch']);
    if (Number.isSafeInteger(epoch) && epoch > this.context.state().topology.epoch) this.context.learnFrom(leader);
    const body = peerJson({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }) as { code?: string; message?: string } | undefined;
    throw new ClusterError('BAD_REQUEST', `leader ${leader} refused the stream: ${response.statusCode} ${body?.code ?? ''} ${body?.message ?? ''}`.trim());
  }

  /** Handles every whole frame decoded so far; consecutive batches are applied as one run. */
  private async handleAll(decoder: FrameDecoder, leader: string): Promise<void> {
    let batches: BatchFrame[] = [];
    for (let frame = decoder.next(); frame && !this.stopped; frame = decoder.next()) {
      this.check(frame, leader);
      if (frame.type === 'batch') {
        batches.push(frame);
        if (batches.length < BATCHES_PER_RUN_MAX) continue;
        await this.applyBatches(batches);
      } else {
        await this.applyBatches(batches);
        await this.handle(frame, leader);
      }
      batches = [];
    }
    await this.applyBatches(batches);
  }

  /**
   * Applies a run of batches: all are queued in the engine at once, in order, and only the
   * last asks for fsync, which covers the others (they precede it in the same WAL), so
   * `follower_sync` costs one fsync per run rather than per batch.
   */
  private async applyBatches(frames: readonly BatchFrame[]): Promise<void> {
    if (frames.length === 0) return;
    const { db } = this.context.holder;
    const sync = this.context.options.followerSync;
    await Promise.all(frames.map((f, i) => db.applyBatch(f.batch, { sync: sync && i === frames.length - 1 })));
    for (const f of frames) this.retain(f.first, f.last, f.batch);
    this.counters.batchesApplied += frames.length;
    this.leaderSeq = Math.max(this.leaderSeq, frames.at(-1)!.last);
    this.afterApply();
  }

  /** Every frame: still this shard's leader? A newer epoch is worth fetching. */
  private check(frame: Frame, leader: string): void {
    const state = this.context.state();
    if (state.shard.leader !== leader) throw new Error(`the shard's leader is now ${state.shard.leader}, not ${leader}`);
    if (frame.epoch > state.topology.epoch) this.context.learnFrom(leader);
  }

  private async handle(frame: Exclude<Frame, BatchFrame>, leader: string): Promise<void> {
    const { context } = this;
    switch (frame.type) {
      case 'hello':
        return this.hello(frame, leader);
      case 'heartbeat':
        this.leaderSeq = frame.leaderSeq;
        if (context.now() - this.lastReportMs > context.options.heartbeatIntervalMs * 4) this.report();
        return;
      case 'snapshot-begin':
        return this.beginSnapshot(frame.seq);
      case 'snapshot-chunk':
        return this.snapshotChunk(frame.entries);
      case 'snapshot-end':
        return this.endSnapshot(frame.seq, frame.count, frame.epoch);
      case 'checkpoint':
        if (context.holder.db.lastSequence === frame.seq && !this.installing) this.takeCheckpoint(frame.seq);
        return this.report();
    }
  }

  private async hello(frame: Extract<Frame, { type: 'hello' }>, leader: string): Promise<void> {
    const { context } = this;
    this.session = { leader, epoch: frame.epoch };
    this.leaderSeq = frame.leaderSeq;
    const meta = context.meta();
    const history: readonly EpochEntry[] = frame.history;
    const change: { -readonly [K in keyof NodeMeta]?: NodeMeta[K] } = {};
    if (newerHistory(meta.history, history) !== meta.history) change.history = history;
    // The leader checked this node's data is a prefix of its log; from here on it is this epoch's.
    if (frame.plan === 'stream' && frame.epoch > meta.dataEpoch) change.dataEpoch = frame.epoch;
    if (Object.keys(change).length > 0) await context.saveMeta(change);
    if (frame.plan === 'stream') this.report();
  }

  private async beginSnapshot(seq: number): Promise<void> {
    this.session!.snapshot = { seq, count: 0 };
    await this.emptyEngine();
  }

  /** Marks the install (durably), then swaps the engine for an empty one. */
  private async emptyEngine(): Promise<void> {
    this.installing = true;
    this.context.setReadable(false);
    this.releaseCheckpoint();
    await this.context.saveMeta({ installing: true, dataEpoch: 0 });
    await this.context.holder.wipe();
    this.retention = this.newRetention();
  }

  /** A snapshot install was cut short (the stream broke): empty the engine and start from nothing. */
  private async discardPartialInstall(): Promise<void> {
    await this.emptyEngine();
    await this.context.saveMeta({ installing: false, dataEpoch: 0 });
    this.installing = false;
    this.context.setReadable(true);
  }

  private async snapshotChunk(entries: Uint8Array[]): Promise<void> {
    const snapshot = this.session?.snapshot;
    if (!snapshot) throw new ClusterError('CORRUPTION', 'replication stream: snapshot chunk without snapshot-begin');
    const ops = [];
    for (let i = 0; i < entries.length; i += 2) ops.push({ type: 'put' as const, key: entries[i]!, value: entries[i + 1]! });
    await this.context.holder.db.batch(ops);
    snapshot.count += ops.length;
  }

  private async endSnapshot(seq: number, count: number, epoch: number): Promise<void> {
    const snapshot = this.session?.snapshot;
    if (!snapshot || snapshot.seq !== seq || snapshot.count !== count) {
      throw new ClusterError('CORRUPTION', `replication stream: snapshot ended at seq ${seq} with ${count} entries; received ${snapshot?.count ?? 0} for seq ${snapshot?.seq ?? 'none'}`);
    }
    await this.context.holder.db.advanceSequence(seq, { sync: true });
    await this.context.saveMeta({ installing: false, dataEpoch: epoch });
    this.retention = this.newRetention();
    this.session!.snapshot = undefined;
    this.installing = false;
    this.context.setReadable(true);
    this.counters.snapshotsInstalled++;
    this.context.log('info', 'snapshot installed', { seq, entries: count });
    this.afterApply();
  }

  /** Keeps an applied batch; a batch that does not follow on (it overlapped what was applied) starts the log afresh. */
  private retain(first: number, last: number, batch: Uint8Array): void {
    if (first === this.retention.lastSeq + 1) this.retention.append(first, last, batch, this.context.now());
    else if (last > this.retention.lastSeq) this.retention = this.newRetention();
  }

  private newRetention(): RetentionLog {
    const { options, holder } = this.context;
    return new RetentionLog(holder.db.lastSequence, options.retentionBytesMax, options.retentionBatchesMax);
  }

  private afterApply(): void {
    for (const w of this.waiters) if (this.applied(w.seq)) w.resolve(true);
    this.report();
  }

  /** Sends the position to the leader now, or right after the report in flight returns. */
  private report(): void {
    if (this.installing || !this.session) return;
    if (this.reporting) {
      this.reportAgain = true;
      return;
    }
    this.reporting = true;
    void this.sendReports().finally(() => {
      this.reporting = false;
    });
  }

  private async sendReports(): Promise<void> {
    do {
      this.reportAgain = false;
      const session = this.session;
      if (!session || this.stopped) return;
      this.lastReportMs = this.context.now();
      const state = this.context.state();
      const body = { node: this.context.address, epoch: state.topology.epoch, applied: this.context.holder.db.lastSequence, checkpoint: this.checkpoint?.seq ?? null };
      try {
        const res = await this.context.peers.request(session.leader, { method: 'POST', path: '/internal/replication/ack', json: body, timeoutMs: REPORT_TIMEOUT_MS });
        const epoch = Number(res.headers['x-epoch']);
        if (Number.isSafeInteger(epoch) && epoch > state.topology.epoch) this.context.learnFrom(session.leader);
      } catch (error) {
        // The stream will fail too if the leader is gone; the next report carries the position.
        if (!this.stopped) this.context.log('warn', 'position report failed', { leader: session.leader, ...errorFields(error) });
      }
    } while (this.reportAgain);
  }

  private takeCheckpoint(seq: number): void {
    this.releaseCheckpoint();
    const snapshot = this.context.holder.db.snapshot();
    const timer = setTimeout(() => this.releaseCheckpoint(), CHECKPOINT_KEEP_MS);
    timer.unref();
    this.checkpoint = { seq, snapshot, timer };
  }

  private releaseCheckpoint(): void {
    if (!this.checkpoint) return;
    clearTimeout(this.checkpoint.timer);
    this.checkpoint.snapshot.release();
    this.checkpoint = undefined;
  }
}
