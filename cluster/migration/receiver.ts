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
 * is recorded in the metadata as soon as a snapshot is copied, then every MIGRATION_PROGRESS_MS,
 * so a new leader of this shard, or a new stream, resumes from there; replaying the giver's ops
 * from an earlier point ends in the same state, so resuming a little early is harmless. A start
 * from nothing (a snapshot) first deletes whatever copies an earlier attempt left; as that
 * breaks the recorded progress, it first voids it in the metadata (`restart`).
 *
 * Every step is proposed with this shard's term, so the metadata refuses one from a loop of an
 * earlier leadership (of this node too: a node elected again at the next term gets a new
 * receiver while the old one's loops may still be awaiting something).
 *
 * Concurrency: one loop per move; loops end once this receiver is retired (`stop`, or its
 * leadership stopped). A retired receiver writes nothing more: the check is made as each copy
 * reaches the engine, and so is the check that its move is not done yet (after `done` the keys
 * take client writes here, which a late copy would overwrite with older values).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { BatchOperation, Db } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { FrameDecoder, type Frame } from '../../protocol/frame-format.ts';
import { moveFilter } from '../../protocol/placement.ts';
import type { Command, Metadata, MoveMeta, MoveStep } from '../control/metadata.ts';
import { MIGRATION_CUTOVER_LAG_MAX, MIGRATION_PROGRESS_MS, STREAM_CONNECT_TIMEOUT_MS, FOLLOW_RETRY_DELAY_MS_MAX } from '../limits.ts';
import { errorFields, type Log } from '../log.ts';
import type { Peers } from '../peers.ts';
import type { LeaderReplication } from '../replication/leader.ts';
import type { WriteGate } from '../replication/write-gate.ts';
import { deleteMatching } from './delete-matching.ts';
import { TurnKeeper } from './turns.ts';

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
  /** Per move, the progress record being proposed (one at a time). */
  private readonly recording = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly ctx: ReceiverContext) {}

  /** Starts a loop for each move into this shard that is under way and has none. Call on every new metadata. */
  update(): void {
    const migration = this.ctx.metadata().migration;
    if (!migration || this.retired) return;
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

  /** Stopped, or its leadership is over (a new term makes a new receiver; the old one may not have been told). */
  private get retired(): boolean {
    return this.stopped || this.ctx.leader.isStopped;
  }

  private async run(id: number, giver: string): Promise<void> {
    let failures = 0;
    const progress: MoveProgress = { giver, state: 'copy', through: 0, keysCopied: 0, bytesCopied: 0 };
    this.progress.set(`${id}:${giver}`, progress);
    while (!this.retired) {
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
    const state: StreamState = { id, giver: start.giver, giverSeq: 0, fence: undefined, snapshotDone: false, cutoverAsked: start.state !== 'copy', recorded: start.through, recordedMs: this.ctx.now() };
    try {
      if (stream.status !== 200) throw new ClusterError('BAD_REQUEST', `${giverLeader} refused the migration stream: ${stream.status}`);
      const decoder = new FrameDecoder(this.ctx.frameBytesMax);
      const turns = new TurnKeeper();
      for await (const chunk of stream.chunks) {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame; frame = decoder.next()) {
          await turns.pause();
          through = await this.apply(frame, through, moving, state, progress);
          progress.through = through;
          this.maybeRecord(through, state);
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
        if (this.retired) return false;
      }
      return false;
    } finally {
      stream.close();
    }
  }

  /** Applies one frame; returns the giver's sequence number this shard now holds the moving keys up to. */
  private async apply(frame: Frame, through: number, moving: (key: Uint8Array) => boolean, state: StreamState, progress: MoveProgress): Promise<number> {
    const db = this.ctx.db();
    const write = (ops: BatchOperation[]) => this.write(ops, state);
    switch (frame.type) {
      case 'hello':
        state.giverSeq = frame.leaderSeq;
        state.snapshotDone = frame.plan !== 'snapshot';
        if (frame.plan !== 'snapshot') return through;
        // A snapshot starts from nothing: drop what an earlier attempt copied, once the metadata
        // no longer says this shard holds the keys up to some point (the next leader would resume from there).
        // Always proposed, never judged from this node's view, which can be behind (a restarted
        // leader acts on its cached metadata at first): NO_CHANGE means the committed progress is
        // void already, and the step's term check means this leadership is still the shard's.
        await this.recording.get(moveKey(state));
        await this.step(state.id, state.giver, 'restart');
        state.recorded = 0;
        await deleteMatching(db, moving, write);
        return 0;
      case 'snapshot-begin':
        return 0;
      case 'snapshot-chunk': {
        const ops = [];
        for (let i = 0; i < frame.entries.length; i += 2) ops.push({ type: 'put' as const, key: frame.entries[i]!, value: frame.entries[i + 1]! });
        if (ops.length > 0) await write(ops);
        this.count(progress, frame.entries);
        return through;
      }
      case 'snapshot-end':
        state.snapshotDone = true;
        return frame.seq;
      case 'moved': {
        const ops = frame.ops.map(([kind, key, value]) => (kind === 1 ? { type: 'put' as const, key, value } : { type: 'del' as const, key }));
        if (ops.length > 0) await write(ops);
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

  /** Writes copies of the stream's move, unless this receiver is retired or the move is over (checked as they reach the engine). */
  private write(ops: BatchOperation[], state: StreamState): Promise<number> {
    return this.ctx.gate.write(() => {
      if (this.retired) throw new ClusterError('NOT_LEADER', `${this.ctx.address} no longer leads ${this.ctx.shard} at term ${this.ctx.leader.term}; its migration copies stop`);
      const move = this.move(state.id, state.giver);
      if (!move || move.state === 'done') throw new ClusterError('STALE_MIGRATION', `the move ${state.giver} → ${this.ctx.shard} of migration ${state.id} is over; no more copies`);
      return this.ctx.db().batch(ops);
    });
  }

  private count(progress: MoveProgress, parts: Uint8Array[]): void {
    progress.keysCopied += parts.length / 2;
    for (const part of parts) progress.bytesCopied += part.length;
  }

  /** Resolves once this shard's in-sync set holds everything written so far. */
  private durable(): Promise<void> {
    return this.ctx.leader.readBarrier(this.ctx.db().lastSequence);
  }

  /**
   * Records durable progress in the metadata: at once when none is recorded (a snapshot just
   * copied is the most worth keeping), then every MIGRATION_PROGRESS_MS; one record at a time,
   * and never waits the stream on it.
   */
  private maybeRecord(through: number, state: StreamState): void {
    if (through <= state.recorded || this.recording.has(moveKey(state))) return;
    if (state.recorded > 0 && this.ctx.now() - state.recordedMs < MIGRATION_PROGRESS_MS) return;
    state.recordedMs = this.ctx.now();
    const record = this.durable()
      .then(() => this.step(state.id, state.giver, 'progress', through))
      .then(() => void (state.recorded = Math.max(state.recorded, through)))
      .catch((error: unknown) => this.ctx.log('debug', 'migration progress not recorded', { migration: state.id, giver: state.giver, ...errorFields(error) }))
      .finally(() => this.recording.delete(moveKey(state)));
    this.recording.set(moveKey(state), record);
  }

  private async step(id: number, giver: string, step: Exclude<MoveStep, 'cleaned'>, through?: number): Promise<void> {
    if (this.retired) throw new ClusterError('NOT_LEADER', `${this.ctx.address} no longer leads ${this.ctx.shard} at term ${this.ctx.leader.term}; it takes no migration step`);
    try {
      await this.ctx.propose({ type: 'move', id, giver, receiver: this.ctx.shard, step, term: this.ctx.leader.term, ...(through !== undefined && { through }) });
    } catch (error) {
      // Another attempt already took the step: nothing to do.
      if ((error as ClusterError).code !== 'NO_CHANGE') throw error;
    }
  }
}

/** What one stream of a move has seen so far. */
interface StreamState {
  id: number;
  giver: string;
  /** The giver's sequence number as it last said (hello, moved, heartbeat). */
  giverSeq: number;
  /** Up to where the giver's writes to the moving keys are, once it is fenced (cutover). */
  fence: number | undefined;
  snapshotDone: boolean;
  cutoverAsked: boolean;
  /** The progress the metadata holds, as far as this stream knows. */
  recorded: number;
  recordedMs: number;
}

function moveKey(state: Pick<StreamState, 'id' | 'giver'>): string {
  return `${state.id}:${state.giver}`;
}
