/**
 * The follower's half of replication: the I/O shell around FollowerMachine
 * (follower-machine.ts, where the rules live). It opens the stream the machine asks for, decodes
 * its frames and feeds them in, carries out the machine's work on the engine and the node state
 * one item at a time, in order (`executeWork`), sends the position reports it asks for, and
 * ticks it for timeouts and retries.
 *
 * Concurrency: one reader loop per stream; after stepping a chunk's frames it waits until the
 * work they produced is done before reading the next chunk, so the engine's position is the
 * machine's whenever a stream opens or a report goes out. Work runs in one async runner; a
 * report runs on its own and never waits on work. Nothing here waits on the controller's lock:
 * topology fetches are started, not awaited, so `stop` (called under that lock) always finishes.
 */
import type { Snapshot } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { FrameDecoder, type Frame } from '../../protocol/frame-format.ts';
import type { ReplicationOptions } from '../../protocol/replication-options.ts';
import type { TransportStream } from '../../net/transport.ts';
import { CHECKPOINT_KEEP_MS, FOLLOW_RETRY_DELAY_MS_MAX, FOLLOWER_BATCHES_PER_RUN_MAX, REPORT_TIMEOUT_MS, STREAM_CONNECT_TIMEOUT_MS } from '../limits.ts';
import { errorFields, type Log } from '../log.ts';
import type { Peers } from '../peers.ts';
import type { DbHolder } from './db-holder.ts';
import { FollowerMachine, type FollowerEvent, type FollowerReady, type MetaChange, type Work, type WorkSpec } from './follower-machine.ts';
import type { NodeMeta } from './node-meta.ts';
import { ReadyLoop } from './ready-loop.ts';
import type { RetentionLog } from './retention-log.ts';

/** How often the machine is ticked: retries back off from 25 ms, min_seq reads wait up to a second. */
const TICK_MS = 25;

export interface FollowerContext {
  holder: DbHolder;
  options: Readonly<ReplicationOptions>;
  address: string;
  peers: Peers;
  log: Log;
  now(): number;
  frameBytesMax: number;
  /** Whom the metadata names as the shard's leader, at which term, when following starts. */
  leader: string;
  term: number;
  meta(): NodeMeta;
  saveMeta(change: MetaChange): Promise<void>;
  setReadable(readable: boolean): void;
  /** Something showed the node's metadata is stale: fetch it now; never awaited here. */
  refreshMetadata(): void;
}

/** Carries out one work item of the follower machine on the engine and the node state. */
export async function executeWork(work: WorkSpec, holder: DbHolder, saveMeta: (change: MetaChange) => Promise<void>): Promise<void> {
  const db = holder.db;
  switch (work.kind) {
    case 'persist':
      return saveMeta(work.change);
    case 'wipe':
      return holder.wipe();
    case 'apply': {
      // All queued at once, in order; only the last asks for fsync, which covers the others
      // (they precede it in the same WAL), so follower_sync costs one fsync per run.
      const last = work.batches.length - 1;
      await Promise.all(work.batches.map((f, i) => db.applyBatch(f.batch, { sync: work.sync && i === last })));
      return;
    }
    case 'write-snapshot': {
      const ops = [];
      for (let i = 0; i < work.entries.length; i += 2) ops.push({ type: 'put' as const, key: work.entries[i]!, value: work.entries[i + 1]! });
      await db.batch(ops);
      return;
    }
    case 'advance':
      await db.advanceSequence(work.seq, { sync: true });
      return;
    case 'checkpoint':
      return;
  }
}

export class FollowerReplication {
  private readonly machine: FollowerMachine;
  private readonly loop: ReadyLoop<FollowerReady>;
  private readonly ticker: NodeJS.Timeout;
  private stream: TransportStream | undefined;
  /** A connect is under way and should be dropped when it lands. */
  private abandonConnect = false;
  private queue: Work[] = [];
  private running: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly readers = new Set<Promise<void>>();
  private checkpoint: { seq: number; snapshot: Snapshot } | undefined;
  private readonly waiters = new Map<number, (ok: boolean) => void>();
  private nextWaiter = 1;
  private stopped = false;

  constructor(private readonly context: FollowerContext) {
    const { options, holder, address } = context;
    const meta = context.meta();
    this.machine = new FollowerMachine({
      address, heartbeatIntervalMs: options.heartbeatIntervalMs, retentionBytesMax: options.retentionBytesMax, retentionBatchesMax: options.retentionBatchesMax,
      followerSync: options.followerSync, batchesPerRunMax: FOLLOWER_BATCHES_PER_RUN_MAX, checkpointKeepMs: CHECKPOINT_KEEP_MS, retryDelayMaxMs: FOLLOW_RETRY_DELAY_MS_MAX,
    }, { applied: holder.db.lastSequence, dataTerm: meta.dataTerm, history: meta.history, leader: context.leader, term: context.term });
    this.loop = new ReadyLoop(this.machine, (ready) => this.carryOut(ready));
    this.ticker = setInterval(() => this.step({ type: 'tick' }), TICK_MS);
    this.ticker.unref();
    this.loop.flush();
  }

  /** Begins following (the first tick connects). */
  start(): void {
    this.step({ type: 'tick' });
  }

  /** The node's topology changed: follow `leader` at `term` (reconnecting if the leader moved). */
  follow(leader: string, term: number): void {
    this.step({ type: 'leader', leader, term });
  }

  /** Stops following and waits until nothing more is applied. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.step({ type: 'stop' });
    this.stopped = true;
    clearInterval(this.ticker);
    await Promise.all([...this.readers]);
    await this.running;
    this.releaseCheckpoint();
  }

  get isInstalling(): boolean {
    return this.machine.isInstalling;
  }

  /** The batches applied most recently, ending at the engine's last sequence number; a promoted node serves from it. */
  retained(): RetentionLog | undefined {
    return this.machine.position === this.context.holder.db.lastSequence ? this.machine.retained() : undefined;
  }

  /** Whether the engine has applied `seq` (and is readable), waiting up to `waitMs` for it. */
  waitApplied(seq: number, waitMs: number): Promise<boolean> {
    const id = this.nextWaiter++;
    return new Promise((resolve) => {
      this.waiters.set(id, resolve);
      this.step({ type: 'wait', id, seq, deadlineMs: this.context.now() + waitMs });
    });
  }

  /** The checkpoint snapshot pinned at `seq`, if this follower holds one. */
  checkpointAt(seq: number): Snapshot | undefined {
    return this.checkpoint?.seq === seq ? this.checkpoint.snapshot : undefined;
  }

  status(): Record<string, unknown> {
    return this.machine.status();
  }

  private step(event: FollowerEvent): void {
    if (this.stopped) return;
    this.machine.step(event, this.context.now());
    this.loop.flush();
  }

  private carryOut(ready: FollowerReady): void {
    for (const line of ready.logs) this.context.log(line.level, line.message, line.fields);
    if (ready.readable !== undefined) this.context.setReadable(ready.readable);
    if (ready.refreshMetadata) this.context.refreshMetadata();
    for (const { id, ok } of ready.settled) {
      this.waiters.get(id)?.(ok);
      this.waiters.delete(id);
    }
    if (ready.releaseCheckpoint) this.releaseCheckpoint();
    if (ready.disconnect) {
      this.abandonConnect = true;
      this.stream?.close();
    }
    if (ready.work.length > 0) {
      this.queue.push(...ready.work);
      this.kick();
    }
    if (ready.report) void this.sendReport(ready.report.leader, ready.report.body);
    if (ready.connect) this.track(this.follow0(ready.connect));
  }

  private track(reader: Promise<void>): void {
    this.readers.add(reader);
    void reader.finally(() => this.readers.delete(reader));
  }

  /** One stream's life: open, read and step frames (waiting for their work), then say it ended. */
  private async follow0(connect: NonNullable<FollowerReady['connect']>): Promise<void> {
    this.abandonConnect = false;
    const query = `node=${encodeURIComponent(this.context.address)}&from=${connect.from}&term=${connect.term}&data_term=${connect.dataTerm}`;
    let error: string | undefined;
    let corrupt = false;
    try {
      const stream = await this.context.peers.stream(connect.leader, `/internal/replication/stream?${query}`, STREAM_CONNECT_TIMEOUT_MS);
      this.stream = stream;
      if (this.abandonConnect || this.stopped) return stream.close();
      if (stream.status !== 200) return await this.refused(stream);
      this.step({ type: 'connected' });
      await this.read(stream);
    } catch (caught) {
      error = (caught as Error).message;
      corrupt = caught instanceof ClusterError && caught.code === 'CORRUPTION';
    } finally {
      this.stream?.close();
      this.stream = undefined;
      await this.idle();
      this.step({ type: 'disconnected', error, corrupt });
    }
  }

  private async read(stream: TransportStream): Promise<void> {
    const decoder = new FrameDecoder(this.context.frameBytesMax);
    for await (const chunk of stream.chunks) {
      decoder.push(chunk);
      const frames: Frame[] = [];
      let damage: unknown;
      try {
        for (let frame = decoder.next(); frame; frame = decoder.next()) frames.push(frame);
      } catch (caught) {
        damage = caught;
      }
      // Whole frames before a damaged one are good: take them, then drop the stream.
      if (frames.length > 0) this.step({ type: 'frames', frames });
      await this.idle();
      if (damage) throw damage;
      if (this.stopped || this.abandonConnect) return;
    }
  }

  private async refused(stream: TransportStream): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream.chunks) if (chunks.length < 16) chunks.push(chunk);
    let body: { code?: unknown; message?: unknown } | undefined;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      body = undefined;
    }
    const term = Number(stream.headers['x-term']);
    this.step({
      type: 'refused', status: stream.status, term: Number.isSafeInteger(term) ? term : undefined,
      code: typeof body?.code === 'string' ? body.code : undefined, message: typeof body?.message === 'string' ? body.message : undefined,
    });
  }

  /** Starts the work runner unless it runs. Its end is handled in `finally`, never before this assignment. */
  private kick(): void {
    if (this.running) return;
    this.running = this.runWork().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0 && !this.stopped) this.kick();
      else for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  /** Runs queued work one item at a time; a failure abandons the rest (the machine drops the stream). */
  private async runWork(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped) {
      const work = this.queue[0]!;
      try {
        if (work.kind === 'checkpoint') this.takeCheckpoint(work.seq);
        else await executeWork(work, this.context.holder, (change) => this.context.saveMeta(change));
      } catch (error) {
        this.queue = [];
        this.context.log('warn', 'replication work failed', { work: work.kind, ...errorFields(error) });
        this.step({ type: 'failed', work: work.id, error: (error as Error).message });
        break;
      }
      this.queue.shift();
      this.step({ type: 'done', work: work.id });
    }
  }

  /** Resolves once no work is queued or running. */
  private idle(): Promise<void> {
    if (!this.running && (this.queue.length === 0 || this.stopped)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async sendReport(leader: string, body: object): Promise<void> {
    try {
      const answer = await this.context.peers.call(leader, 'POST', '/internal/replication/ack', { json: body, timeoutMs: REPORT_TIMEOUT_MS });
      const term = Number(answer.headers['x-term']);
      this.step({ type: 'report-answered', status: answer.status, term: Number.isSafeInteger(term) ? term : undefined });
    } catch (error) {
      this.step({ type: 'report-failed', error: (error as Error).message });
    }
  }

  private takeCheckpoint(seq: number): void {
    this.releaseCheckpoint();
    const snapshot = this.context.holder.db.snapshot();
    // The machine asks for a checkpoint only once the engine stands exactly at `seq`.
    if (snapshot.seq !== seq) {
      snapshot.release();
      throw new Error(`follower: checkpoint asked at seq ${seq}, but the engine is at ${snapshot.seq}`);
    }
    this.checkpoint = { seq, snapshot };
  }

  private releaseCheckpoint(): void {
    this.checkpoint?.snapshot.release();
    this.checkpoint = undefined;
  }
}
