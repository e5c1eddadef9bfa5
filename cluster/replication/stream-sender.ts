/**
 * One follower's replication stream, leader side: the I/O shell around a cursor into the
 * retention log. It writes the preamble and a hello, a snapshot if the plan says so, then
 * every retained batch from the follower's position on, then each new batch as it commits,
 * with heartbeats when idle and checkpoints when anti-entropy asks.
 *
 * Backpressure: a frame is written only after the socket drained the previous ones, so a slow
 * follower costs the leader one frame of buffer, not a queue. If the follower falls so far
 * behind that its next batch leaves the retention window, the stream ends; the follower
 * reconnects and is sent a snapshot.
 *
 * Concurrency: `run` is one async loop; `wake` (a commit, a checkpoint request, the heartbeat
 * tick) and the socket closing may happen at any await in it.
 */
import type { ServerResponse } from 'node:http';
import type { Db } from '../../engine/index.ts';
import type { Log } from '../log.ts';
import { encodeFrame, encodePreamble, type Frame } from '../../protocol/frame-format.ts';
import type { EpochEntry } from './epoch-history.ts';
import type { RetentionLog } from './retention-log.ts';

export interface StreamContext {
  db: Db;
  retention: RetentionLog;
  epoch(): number;
  address: string;
  history(): readonly EpochEntry[];
  heartbeatIntervalMs: number;
  snapshotChunkBytes: number;
  log: Log;
  now(): number;
}

export class StreamSender {
  private closed = false;
  private wakeUp: (() => void) | undefined;
  private lastWriteMs: number;
  private checkpointSeq: number | undefined;
  private releasePin: (() => void) | undefined;

  constructor(
    private readonly context: StreamContext,
    private readonly res: ServerResponse,
    readonly node: string,
    private readonly plan: { kind: 'stream'; from: number } | { kind: 'snapshot' },
  ) {
    this.lastWriteMs = context.now();
    res.once('close', () => this.close());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Something happened (a commit, a tick, a request); the loop looks again. */
  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  /** Asks for a checkpoint frame right after the batch ending at `seq`. */
  requestCheckpoint(seq: number): void {
    this.checkpointSeq = seq;
    this.wake();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releasePin?.();
    this.wake();
    if (!this.res.writableEnded) this.res.end();
  }

  /** Streams until the follower goes away, the stream is closed, or the follower leaves the window. */
  async run(): Promise<void> {
    const { retention } = this.context;
    await this.write(encodePreamble());
    const from = this.plan.kind === 'stream' ? this.plan.from : 0;
    await this.send({ type: 'hello', epoch: this.context.epoch(), leader: this.context.address, plan: this.plan.kind, from, leaderSeq: retention.lastSeq, history: [...this.context.history()] });
    let cursor = this.plan.kind === 'stream' ? this.plan.from : (await this.sendSnapshot()) + 1;
    while (!this.closed) {
      if (this.checkpointSeq !== undefined && cursor - 1 >= this.checkpointSeq) {
        if (cursor - 1 === this.checkpointSeq) await this.send({ type: 'checkpoint', epoch: this.context.epoch(), seq: this.checkpointSeq });
        this.checkpointSeq = undefined;
      }
      if (cursor <= retention.lastSeq) {
        const entry = retention.entryFor(cursor);
        if (!entry) {
          this.context.log('warn', 'follower fell out of the retention window; ending its stream', { follower: this.node, next: cursor, retainedFrom: retention.servableFrom });
          break;
        }
        await this.send({ type: 'batch', epoch: this.context.epoch(), first: entry.first, last: entry.last, batch: entry.batch });
        cursor = entry.last + 1;
        continue;
      }
      // Caught up: the snapshot's pin has done its job.
      this.releasePin?.();
      this.releasePin = undefined;
      if (this.context.now() - this.lastWriteMs >= this.context.heartbeatIntervalMs) {
        await this.send({ type: 'heartbeat', epoch: this.context.epoch(), leaderSeq: retention.lastSeq });
        continue;
      }
      await new Promise<void>((resolve) => (this.wakeUp = resolve));
    }
    this.close();
  }

  /** Sends a consistent copy of the data; returns the sequence number it was taken at. */
  private async sendSnapshot(): Promise<number> {
    const { db, retention, snapshotChunkBytes } = this.context;
    const snapshot = db.snapshot();
    this.releasePin = retention.pin(snapshot.seq + 1);
    try {
      const epoch = this.context.epoch();
      await this.send({ type: 'snapshot-begin', epoch, seq: snapshot.seq });
      let entries: Uint8Array[] = [];
      let bytes = 0;
      let count = 0;
      for await (const [key, value] of db.iterator({ snapshot })) {
        if (this.closed) return snapshot.seq;
        entries.push(key, value);
        bytes += key.length + value.length;
        count++;
        if (bytes >= snapshotChunkBytes) {
          await this.send({ type: 'snapshot-chunk', epoch, entries });
          entries = [];
          bytes = 0;
        }
      }
      if (entries.length > 0) await this.send({ type: 'snapshot-chunk', epoch, entries });
      await this.send({ type: 'snapshot-end', epoch, seq: snapshot.seq, count });
      this.context.log('info', 'snapshot sent', { follower: this.node, seq: snapshot.seq, entries: count });
      return snapshot.seq;
    } finally {
      snapshot.release();
    }
  }

  private send(frame: Frame): Promise<void> {
    return this.write(encodeFrame(frame));
  }

  private async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return;
    this.lastWriteMs = this.context.now();
    if (this.res.write(bytes)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}
