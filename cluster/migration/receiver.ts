/**
 * The receiving side of a migration's moves (docs/resharding.md), on the receiving shard's
 * leader: one loop per move into this shard. Each copies the moving keys from the giver's
 * leader (giver.ts: a snapshot, then the log), writing them through this shard's own log (so
 * its followers get them as any write), and walks the move through its steps:
 *
 *   copy    → when it is at most MIGRATION_CUTOVER_LAG_MAX of the giver's sequence numbers
 *             behind, it proposes `cutover`;
 *   cutover → the giver stops taking writes to the moving keys and says up to where they are
 *             (`fenced`); once this shard holds them all, durably (its in-sync set has applied
 *             them), it proposes `done`, and the keys are its own.
 *
 * Progress (the giver's sequence number up to which this shard holds the moving keys durably)
 * is recorded in the metadata every MIGRATION_PROGRESS_MS, so a new leader of this shard, or a
 * new stream, resumes from there; replaying the giver's ops from an earlier point ends in the
 * same state, so resuming a little early is harmless. A start from nothing (a snapshot) first
 * deletes whatever copies an earlier attempt left.
 *
 * Concurrency: one loop per move; loops stop when the node stops leading (`stop` waits for the
 * write in progress).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { BatchOperation, Db } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { FrameDecoder, type Frame } from '../../protocol/frame-format.ts';
import { moveFilter } from '../../protocol/placement.ts';
import type { Command, Metadata, MoveMeta } from '../control/metadata.ts';
import { MIGRATION_CUTOVER_LAG_MAX, MIGRATION_PROGRESS_MS, STREAM_CONNECT_TIMEOUT_MS, FOLLOW_RETRY_DELAY_MS_MAX } from '../limits.ts';
import { errorFields, type Log } from '../log.ts';
import type { Peers } from '../peers.ts';
import type { LeaderReplication } from '../replication/leader.ts';
import type { WriteGate } from '../replication/write-gate.ts';
import { deleteMatching } from './delete-matching.ts';

export interface ReceiverContext {
  address: string;
  shard: string;
  db(): Db;
  leader: LeaderReplication;
  /** This shard's write gate: copies pass it like client writes, so a node that stopped leading writes none. */
  gate: WriteGate;
  peers: Peers;
  metadata(): Metadata;
  propose(command: Command): Promise<Metadata>;
  frameBytesMax: number;
  log: Log;
  now(): number;
}

/** What a receiver loop reports of itself, for /internal/state. */
export interface MoveProgress {
  giver: string;
  state: string;
  through: number;
  keysCopied: number;
  bytesCopied: number;
}

export class MigrationReceiver {
  private readonly loops = new Map<string, Promise<void>>();
  private readonly progress = new Map<string, MoveProgress>();
  private stopped = false;

  constructor(private readonly ctx: ReceiverContext) {}

  /** Starts a loop for each move into this shard that is under way and has none. Call on every new metadata. */
  update(): void {
    const migration = this.ctx.metadata().migration;
    if (!migration || this.stopped) return;
    for (const move of migration.moves) {
      if (move.receiver !== this.ctx.shard || move.state === 'done') continue;
      const key = `${migration.id}:${move.giver}`;
      if (this.loops.has(key)) continue;
      const loop = this.run(migration.id, move.giver).finally(() => this.loops.delete(key));
      this.loops.set(key, loop);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.loops.values()]);
  }

  status(): MoveProgress[] {
    return [...this.progress.values()];
  }

  private async run(id: number, giver: string): Promise<void> {
    let failures = 0;
    const progress: MoveProgress = { giver, state: 'copy', through: 0, keysCopied: 0, bytesCopied: 0 };
    this.progress.set(`${id}:${giver}`, progress);
    while (!this.stopped) {
      const move = this.move(id, giver);
      if (!move || move.state === 'done') break;
      try {
        if (await this.follow(id, move, progress)) break;
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1 || failures % 20 === 0) this.ctx.log('warn', 'migration stream failed; starting again', { migration: id, giver, failures, ...errorFields(error) });
      }
      await delay(Math.min(FOLLOW_RETRY_DELAY_MS_MAX, 50 * 2 ** Math.min(failures, 5)));
    }
    this.progress.delete(`${id}:${giver}`);
  }

  private move(id: number, giver: string): MoveMeta | undefined {
    const migration = this.ctx.metadata().migration;
    if (migration?.id !== id) return undefined;
    return migration.moves.find((m) => m.giver === giver && m.receiver === this.ctx.shard);
  }

  /** One stream from the giver's leader; true once the move is done. */
  private async follow(id: number, start: MoveMeta, progress: MoveProgress): Promise<boolean> {
    const metadata = this.ctx.metadata();
    const migration = metadata.migration!;
    const giverLeader = metadata.shards.find((s) => s.name === start.giver)?.leader;
    if (!giverLeader) throw new ClusterError('UNKNOWN_SHARD', `no shard ${start.giver}`);
    const moving = moveFilter(metadata.ring, migration.to, metadata.vnodes, start.giver, this.ctx.shard);
    let through = Math.max(progress.through, start.through);
    const from = through > 0 ? through + 1 : 0;
    const stream = await this.ctx.peers.stream(giverLeader, `/internal/migration/stream?id=${id}&receiver=${encodeURIComponent(this.ctx.shard)}&from=${from}`, STREAM_CONNECT_TIMEOUT_MS);
    const state = { giverSeq: 0, fence: undefined as number | undefined, snapshotDone: false, cutoverAsked: start.state !== 'copy', recorded: start.through, recordedMs: this.ctx.now() };
    try {
      if (stream.status !== 200) throw new ClusterError('BAD_REQUEST', `${giverLeader} refused the migration stream: ${stream.status}`);
      const decoder = new FrameDecoder(this.ctx.frameBytesMax);
      for await (const chunk of stream.chunks) {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame; frame = decoder.next()) {
          through = await this.apply(frame, through, moving, state, progress);
          progress.through = through;
          this.maybeRecord(id, start.giver, through, state);
          if (!state.cutoverAsked && state.snapshotDone && state.giverSeq - through <= MIGRATION_CUTOVER_LAG_MAX) {
            state.cutoverAsked = true;
            progress.state = 'cutover asked';
            await this.step(id, start.giver, 'cutover');
          }
          if (state.fence !== undefined && through >= state.fence) {
            await this.durable();
            await this.step(id, start.giver, 'done', through);
            progress.state = 'done';
            this.ctx.log('info', 'migration move done', { migration: id, giver: start.giver, receiver: this.ctx.shard, through, keysCopied: progress.keysCopied });
            return true;
          }
        }
        if (this.stopped) return false;
      }
      return false;
    } finally {
      stream.close();
    }
  }

  /** Applies one frame; returns the giver's sequence number this shard now holds the moving keys up to. */
  private async apply(frame: Frame, through: number, moving: (key: Uint8Array) => boolean, state: { giverSeq: number; fence: number | undefined; snapshotDone: boolean }, progress: MoveProgress): Promise<number> {
    const db = this.ctx.db();
    switch (frame.type) {
      case 'hello':
        state.giverSeq = frame.leaderSeq;
        // A snapshot starts from nothing: drop what an earlier attempt copied.
        if (frame.plan === 'snapshot') await deleteMatching(db, moving, (ops) => this.write(ops));
        state.snapshotDone = frame.plan !== 'snapshot';
        return frame.plan === 'snapshot' ? 0 : through;
      case 'snapshot-begin':
        return 0;
      case 'snapshot-chunk': {
        const ops = [];
        for (let i = 0; i < frame.entries.length; i += 2) ops.push({ type: 'put' as const, key: frame.entries[i]!, value: frame.entries[i + 1]! });
        if (ops.length > 0) await this.write(ops);
        this.count(progress, frame.entries);
        return through;
      }
      case 'snapshot-end':
        state.snapshotDone = true;
        return frame.seq;
      case 'moved': {
        const ops = frame.ops.map(([kind, key, value]) => (kind === 1 ? { type: 'put' as const, key, value } : { type: 'del' as const, key }));
        if (ops.length > 0) await this.write(ops);
        this.count(progress, frame.ops.flatMap(([, key, value]) => [key, value]));
        state.giverSeq = Math.max(state.giverSeq, frame.through);
        return frame.through;
      }
      case 'heartbeat':
        state.giverSeq = Math.max(state.giverSeq, frame.leaderSeq);
        return through;
      case 'fenced':
        state.fence = frame.seq;
        return through;
      default:
        throw new ClusterError('CORRUPTION', `a ${frame.type} frame on a migration stream`);
    }
  }

  private write(ops: BatchOperation[]): Promise<number> {
    return this.ctx.gate.write(() => this.ctx.db().batch(ops));
  }

  private count(progress: MoveProgress, parts: Uint8Array[]): void {
    progress.keysCopied += parts.length / 2;
    for (const part of parts) progress.bytesCopied += part.length;
  }

  /** Resolves once this shard's in-sync set holds everything written so far. */
  private durable(): Promise<void> {
    return this.ctx.leader.readBarrier(this.ctx.db().lastSequence);
  }

  /** Records durable progress in the metadata now and then; never waits the stream on it. */
  private maybeRecord(id: number, giver: string, through: number, state: { recorded: number; recordedMs: number }): void {
    if (through <= state.recorded || this.ctx.now() - state.recordedMs < MIGRATION_PROGRESS_MS) return;
    state.recordedMs = this.ctx.now();
    void this.durable()
      .then(() => this.step(id, giver, 'progress', through))
      .then(() => (state.recorded = through))
      .catch((error: unknown) => this.ctx.log('debug', 'migration progress not recorded', { migration: id, giver, ...errorFields(error) }));
  }

  private async step(id: number, giver: string, step: 'progress' | 'cutover' | 'done', through?: number): Promise<void> {
    try {
      await this.ctx.propose({ type: 'move', id, giver, receiver: this.ctx.shard, step, ...(through !== undefined && { through }) });
    } catch (error) {
      // Another attempt already took the step: nothing to do.
      if ((error as ClusterError).code !== 'NO_CHANGE') throw error;
    }
  }
}
