/**
 * The giving side of a migration's move (docs/resharding.md), on the giving shard's leader:
 * `GET /internal/migration/stream?id=&receiver=&from=` streams the moving keys to the
 * receiving shard's leader, in the replication stream's framing (protocol/frame-format.ts):
 *
 *   hello, then either a snapshot of the moving keys (snapshot-begin, chunks, snapshot-end at
 *   seq S: only once the in-sync set holds everything up to S) and the log from S + 1, or the
 *   log from `from` when the receiver resumes and the retention log still has it;
 *   `moved` frames: the ops of each committed batch on moving keys, sent only once the batch is
 *   held by the in-sync set (so a failover of the giver never takes back what the receiver has);
 *   `fenced` once the move is in cutover: the giver takes no more writes to the moving keys, and
 *   all of them are at or below that sequence number;
 *   heartbeats carrying the giver's high watermark, so the receiver knows how far behind it is.
 *
 * The stream ends when the move is done, the migration or this node's leadership changes, the
 * receiver goes away, or the log it needs has left the retention window (the receiver then
 * starts over with a snapshot).
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Db } from '../../engine/index.ts';
import { decodeBatch } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { encodeFrame, encodePreamble, type Frame, type MovedOp } from '../../protocol/frame-format.ts';
import { MOVED_OPS_MAX } from '../../protocol/limits.ts';
import { TurnKeeper } from './turns.ts';
import { moveFilter } from '../../protocol/placement.ts';
import type { Metadata, MigrationMeta, MoveMeta } from '../control/metadata.ts';
import { MIGRATION_CHUNK_BYTES, MIGRATION_POLL_MS } from '../limits.ts';
import type { Log } from '../log.ts';
import type { LeaderReplication } from '../replication/leader.ts';
import type { WriteGate } from '../replication/write-gate.ts';

export interface GiverContext {
  address: string;
  db: Db;
  leader: LeaderReplication;
  gate: WriteGate;
  /** The metadata this node acts on now. */
  metadata(): Metadata;
  /** This node's shard. */
  shard: string;
  heartbeatIntervalMs: number;
  log: Log;
  now(): number;
}

export interface MoveStreamParams {
  id: number;
  receiver: string;
  /** The receiver's next needed sequence number of this shard's log; 0 to start from a snapshot. */
  from: number;
}

/** Ops of kind 0 (delete) and 1 (put) on moving keys; kind 2 (range delete) never is written while a move is under way. */
const DELETE = 0;
const PUT = 1;

/** The migration and move `params` name, if this node's shard gives in it. */
export function findMove(metadata: Metadata, shard: string, params: Pick<MoveStreamParams, 'id' | 'receiver'>): { migration: MigrationMeta; move: MoveMeta } {
  const migration = metadata.migration;
  if (!migration || migration.id !== params.id) throw new ClusterError('STALE_MIGRATION', `no migration ${params.id} under way${migration ? ` (migration ${migration.id} is)` : ''}`);
  const move = migration.moves.find((m) => m.giver === shard && m.receiver === params.receiver);
  if (!move) throw new ClusterError('BAD_REQUEST', `migration ${params.id} moves nothing from ${shard} to ${params.receiver}`);
  return { migration, move };
}

export async function streamMove(ctx: GiverContext, res: ServerResponse, writeHead: () => void, params: MoveStreamParams): Promise<void> {
  const metadata = ctx.metadata();
  const { migration, move } = findMove(metadata, ctx.shard, params);
  if (move.state === 'done') throw new ClusterError('STALE_MIGRATION', `the move ${move.giver} → ${move.receiver} is done`);
  const moving = moveFilter(metadata.ring, migration.to, metadata.vnodes, move.giver, move.receiver);
  const retention = ctx.leader.retention;
  const resume = params.from > 0 && params.from >= retention.servableFrom && params.from <= retention.lastSeq + 1;
  const out = new FrameWriter(res, writeHead);
  const term = ctx.leader.term;
  let release = retention.pin(resume ? params.from : retention.lastSeq + 1);
  // Moved ops go only up to the high watermark, the lowest position followers reported: while
  // this stream is open they report after every applied run, not on their relaxed cadence, so
  // neither the copy phase's catch-up nor the cutover (503 MIGRATING) waits an interval for it.
  // A flag for the whole stream rather than a read barrier after the fence: the barrier would
  // speed the cutover only, and the receiver asks for the cutover once it is close behind.
  const leader = ctx.leader;
  leader.giving(true);
  try {
    await out.send({ type: 'hello', term, leader: ctx.address, plan: resume ? 'stream' : 'snapshot', from: resume ? params.from : 0, leaderSeq: ctx.leader.highWatermark(), history: [] });
    let cursor = resume ? params.from : (await sendSnapshot(ctx, out, moving, term)) + 1;
    let fenced = false;
    let throughSent = cursor - 1;
    let lastSentMs = ctx.now();
    while (!out.closed) {
      const now = currentMove(ctx.metadata(), migration.id, move);
      if (!now || now.state === 'done' || ctx.leader.isStopped) break;
      if (now.state === 'cutover' && !fenced) {
        fenced = true;
        await out.send({ type: 'fenced', term, seq: await fence(ctx) });
      }
      const hw = ctx.leader.highWatermark();
      let ops: MovedOp[] = [];
      let bytes = 0;
      while (cursor <= hw && bytes < MIGRATION_CHUNK_BYTES) {
        const entry = retention.entryFor(cursor);
        if (!entry) throw new ClusterError('BAD_REQUEST', `the log from ${cursor} left this leader's retention window; start over from a snapshot`);
        for (const op of decodeBatch(entry.batch, 'retained batch').ops) {
          if (op.kind === 2) throw new ClusterError('INTERNAL', 'a range delete in the log of a shard giving keys away');
          if (!moving(op.key)) continue;
          ops.push([op.kind === PUT ? PUT : DELETE, op.key, op.value]);
          bytes += op.key.length + op.value.length;
          if (ops.length === MOVED_OPS_MAX) {
            // A frame holds at most MOVED_OPS_MAX ops (receivers refuse more unread): part of this
            // entry goes now, `through` still before it; a stream resumed there replays the
            // whole entry, in order, which leaves the same keys.
            await out.send({ type: 'moved', term, through: cursor - 1, ops });
            ops = [];
          }
        }
        cursor = entry.last + 1;
      }
      // Ops go at once; a bare advance of `through` once per heartbeat interval, or at once after
      // the fence (the receiver waits for it to pass the fence before it can take the keys).
      const idle = ctx.now() - lastSentMs >= ctx.heartbeatIntervalMs;
      if (ops.length > 0 || (cursor - 1 > throughSent && (idle || fenced))) {
        await out.send({ type: 'moved', term, through: cursor - 1, ops });
        throughSent = cursor - 1;
        lastSentMs = ctx.now();
      } else if (idle) {
        await out.send({ type: 'heartbeat', term, leaderSeq: hw });
        lastSentMs = ctx.now();
      }
      // Keep the log from the cursor on while the receiver needs it.
      const next = retention.pin(cursor);
      release();
      release = next;
      if (cursor > hw) await delay(MIGRATION_POLL_MS);
    }
  } finally {
    leader.giving(false);
    release();
    out.end();
  }
}

/** The move as the metadata says now, or undefined once the migration is over or replaced. */
function currentMove(metadata: Metadata, id: number, move: MoveMeta): MoveMeta | undefined {
  if (metadata.migration?.id !== id) return undefined;
  return metadata.migration.moves.find((m) => m.giver === move.giver && m.receiver === move.receiver);
}

/**
 * Returns the sequence number every write to the moving keys is at or below. The move is in
 * cutover in the metadata this node acts on, so the write gate already refuses client writes
 * to its keys (the controller sets the gate's ownership fence with each metadata it adopts);
 * writes already past the gate finish first, and none to a moving key can start after.
 */
function fence(ctx: GiverContext): Promise<number> {
  return ctx.gate.exclusive(async () => ctx.db.lastSequence);
}

/** Sends the moving keys of a snapshot, once the in-sync set holds everything in it; returns its sequence number. */
async function sendSnapshot(ctx: GiverContext, out: FrameWriter, moving: (key: Uint8Array) => boolean, term: number): Promise<number> {
  const snapshot = ctx.db.snapshot();
  try {
    await ctx.leader.readBarrier(snapshot.seq);
    await out.send({ type: 'snapshot-begin', term, seq: snapshot.seq });
    let entries: Uint8Array[] = [];
    let bytes = 0;
    let count = 0;
    const turns = new TurnKeeper();
    let scanned = 0;
    for await (const [key, value] of ctx.db.iterator({ snapshot })) {
      if (out.closed) return snapshot.seq;
      if ((++scanned & 255) === 0) await turns.pause();
      if (!moving(key)) continue;
      entries.push(key, value);
      bytes += key.length + value.length;
      count++;
      if (bytes >= MIGRATION_CHUNK_BYTES) {
        await out.send({ type: 'snapshot-chunk', term, entries });
        entries = [];
        bytes = 0;
      }
    }
    if (entries.length > 0) await out.send({ type: 'snapshot-chunk', term, entries });
    await out.send({ type: 'snapshot-end', term, seq: snapshot.seq, count });
    ctx.log('info', 'migration snapshot sent', { shard: ctx.shard, seq: snapshot.seq, keys: count });
    return snapshot.seq;
  } finally {
    snapshot.release();
  }
}

/** Frames onto a response, the head and preamble first, waiting for the socket to drain. */
class FrameWriter {
  private started = false;
  closed = false;

  constructor(private readonly res: ServerResponse, private readonly writeHead: () => void) {
    res.once('close', () => (this.closed = true));
  }

  async send(frame: Frame): Promise<void> {
    if (this.closed) return;
    if (!this.started) {
      this.started = true;
      this.writeHead();
      this.res.write(encodePreamble());
    }
    if (this.res.write(encodeFrame(frame))) return;
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

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
