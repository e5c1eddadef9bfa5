/**
 * Anti-entropy: finds and repairs data on a follower that differs from the leader's although
 * the log stream says they match (a disk that flipped bits, someone who opened the follower's
 * engine by hand, a bug). The log cannot notice such damage; only comparing data can.
 *
 * A pass, driven by the leader:
 * 1. The leader pins a snapshot at its last sequence number S and asks every follower stream
 *    for a checkpoint frame after S; each follower, having applied exactly up to S, pins a
 *    snapshot there and reports it. Both sides now read the same point of the log.
 * 2. The leader cuts its snapshot into ranges of `anti_entropy_range_keys` keys and digests
 *    each; the follower digests the same ranges (`POST /internal/anti-entropy/digest`).
 * 3. For each range that differs, the follower sends `(key, XXH64(value))` for its keys in the
 *    range (`POST /internal/anti-entropy/hashes`), and the leader lists the keys that differ.
 * 4. The leader writes each such key's current value (or a delete) through its own log, with
 *    client writes held at the write gate so none is overwritten by an older value. The repair
 *    reaches the follower as ordinary batches, with sequence numbers, like any other write.
 *
 * Why repair through the log rather than writing on the follower: every write on an engine
 * takes the next sequence number, so a write made on the follower alone would shift its
 * position against the leader's log, and it would then skip a real batch as a duplicate.
 */
import type { Db } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { errorFields, type Log } from '../log.ts';
import { percentEncode } from '../../protocol/percent.ts';
import type { DbHolder } from './db-holder.ts';
import type { FollowerReplication } from './follower.ts';
import type { LeaderReplication } from './leader.ts';
import { describeAnswer, type Peers } from '../peers.ts';
import { ANTI_ENTROPY_CHECKPOINT_WAIT_MS, ANTI_ENTROPY_HASHES_PER_RANGE_MAX, ANTI_ENTROPY_KEYS_LOGGED_MAX, ANTI_ENTROPY_RANGES_PER_PASS_MAX, PEER_REQUEST_TIMEOUT_MS } from '../limits.ts';
import { compare, cutAndDigest, differingKeys, differingRanges, digestByStarts, hashValue, type KeyHash, type KeyRange, type RangeSummary } from './range-digest.ts';


export interface PassContext {
  holder: DbHolder;
  leader: LeaderReplication;
  peers: Peers;
  rangeKeys: number;
  batchOpsMax: number;
  log: Log;
}

export interface FollowerReport {
  node: string;
  ranges: number;
  differingRanges: number;
  differingKeys: number;
  error?: string;
}

export interface PassReport {
  seq: number;
  followers: FollowerReport[];
  keysRepaired: number;
}

/** Runs one pass against every follower with an open stream; see the file comment. */
export async function runAntiEntropyPass(context: PassContext): Promise<PassReport> {
  const db = context.holder.db;
  // The snapshot and the checkpoint requests are taken in one step, so both name the same seq.
  const snapshot = db.snapshot();
  const asked = context.leader.requestCheckpoints(snapshot.seq);
  try {
    const { ranges, summaries } = await cutAndDigest(db.iterator({ snapshot }), context.rangeKeys);
    const leaderSide = { db, snapshot, ranges, summaries };
    const results = await Promise.all(asked.map((node) => compareFollower(context, node, leaderSide)));
    const keys = uniqueKeys(results.flatMap((r) => r.keys));
    const keysRepaired = await repair(context, keys);
    if (keysRepaired > 0) {
      const sample = keys.slice(0, ANTI_ENTROPY_KEYS_LOGGED_MAX).map((k) => percentEncode(k));
      context.log('warn', 'anti-entropy repaired keys', { seq: snapshot.seq, keys: keysRepaired, sample, followers: results.map((r) => r.report) });
    }
    return { seq: snapshot.seq, followers: results.map((r) => r.report), keysRepaired };
  } finally {
    snapshot.release();
  }
}

interface LeaderSide {
  db: Db;
  snapshot: ReturnType<Db['snapshot']>;
  ranges: KeyRange[];
  summaries: RangeSummary[];
}

async function compareFollower(context: PassContext, node: string, side: LeaderSide): Promise<{ report: FollowerReport; keys: Uint8Array[] }> {
  const seq = side.snapshot.seq;
  const report: FollowerReport = { node, ranges: side.ranges.length, differingRanges: 0, differingKeys: 0 };
  try {
    await waitForCheckpoint(context.leader, node, seq);
    const starts = side.ranges.slice(1).map((r) => b64(r.gte!));
    const digest = await call(context, node, '/internal/anti-entropy/digest', { seq, starts }) as { summaries: RangeSummary[] };
    const differing = differingRanges(side.summaries, digest.summaries);
    report.differingRanges = differing.length;
    const keys: Uint8Array[] = [];
    for (const i of differing.slice(0, ANTI_ENTROPY_RANGES_PER_PASS_MAX)) {
      const range = side.ranges[i]!;
      const leaderHashes: KeyHash[] = [];
      for await (const [key, value] of side.db.iterator({ snapshot: side.snapshot, ...bounds(range) })) leaderHashes.push([key, hashValue(value)]);
      const body = { seq, gte: range.gte && b64(range.gte), lt: range.lt && b64(range.lt), limit: ANTI_ENTROPY_HASHES_PER_RANGE_MAX };
      const answer = await call(context, node, '/internal/anti-entropy/hashes', body) as { entries: [string, string][]; end: string | null };
      const followerHashes: KeyHash[] = answer.entries.map(([k, h]) => [unb64(k), h]);
      keys.push(...differingKeys(leaderHashes, followerHashes, answer.end === null ? undefined : unb64(answer.end)));
    }
    report.differingKeys = keys.length;
    return { report, keys };
  } catch (error) {
    context.log('warn', 'anti-entropy could not compare a follower', { follower: node, ...errorFields(error) });
    return { report: { ...report, error: (error as Error).message }, keys: [] };
  }
}

async function waitForCheckpoint(leader: LeaderReplication, node: string, seq: number): Promise<void> {
  const deadline = Date.now() + ANTI_ENTROPY_CHECKPOINT_WAIT_MS;
  while (leader.followers().find((f) => f.node === node)?.checkpoint !== seq) {
    if (Date.now() > deadline) throw new Error(`follower did not pin a checkpoint at seq ${seq} within ${ANTI_ENTROPY_CHECKPOINT_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Writes the current value (or a delete) of each key through the log, with client writes held back. */
async function repair(context: PassContext, keys: Uint8Array[]): Promise<number> {
  let repaired = 0;
  for (let i = 0; i < keys.length; i += context.batchOpsMax) {
    const chunk = keys.slice(i, i + context.batchOpsMax);
    await context.holder.gate.exclusive(async () => {
      const db = context.holder.db;
      const ops = [];
      for (const key of chunk) {
        const value = await db.get(key);
        ops.push(value === undefined ? { type: 'del' as const, key } : { type: 'put' as const, key, value });
      }
      await db.batch(ops);
    });
    repaired += chunk.length;
  }
  return repaired;
}

async function call(context: PassContext, node: string, path: string, json: unknown): Promise<unknown> {
  const answer = await context.peers.call(node, 'POST', path, { json, timeoutMs: PEER_REQUEST_TIMEOUT_MS });
  if (answer.status !== 200) throw new Error(`${path} on ${node}: ${describeAnswer(answer)}`);
  return answer.json;
}

/** Follower side of step 2: digests of the ranges `starts` cut, read at the checkpoint `seq`. */
export async function followerDigest(follower: FollowerReplication, db: Db, body: unknown): Promise<{ summaries: RangeSummary[] }> {
  const { seq, starts } = body as { seq?: unknown; starts?: unknown };
  if (!Array.isArray(starts) || !starts.every((s) => typeof s === 'string')) throw badBody('"starts" must be an array of base64 keys');
  const snapshot = checkpoint(follower, seq);
  return { summaries: await digestByStarts(db.iterator({ snapshot }), starts.map(unb64)) };
}

/** Follower side of step 3: `(key, hash)` for the range's keys, at most `limit`; `end` is where the list stopped short. */
export async function followerHashes(follower: FollowerReplication, db: Db, body: unknown): Promise<{ entries: [string, string][]; end: string | null }> {
  const { seq, gte, lt, limit } = body as { seq?: unknown; gte?: unknown; lt?: unknown; limit?: unknown };
  for (const bound of [gte, lt]) if (bound !== undefined && bound !== null && typeof bound !== 'string') throw badBody('bounds must be base64 strings');
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > ANTI_ENTROPY_HASHES_PER_RANGE_MAX) throw badBody(`limit must be 1-${ANTI_ENTROPY_HASHES_PER_RANGE_MAX}`);
  const snapshot = checkpoint(follower, seq);
  const range = { gte: typeof gte === 'string' ? unb64(gte) : undefined, lt: typeof lt === 'string' ? unb64(lt) : undefined };
  const entries: [string, string][] = [];
  for await (const [key, value] of db.iterator({ snapshot, ...bounds(range) })) {
    if (entries.length === limit) return { entries, end: b64(key) };
    entries.push([b64(key), hashValue(value)]);
  }
  return { entries, end: null };
}

function checkpoint(follower: FollowerReplication, seq: unknown) {
  if (!Number.isSafeInteger(seq)) throw badBody('"seq" must be a sequence number');
  const snapshot = follower.checkpointAt(seq as number);
  if (!snapshot) throw new ClusterError('NO_CHECKPOINT', `this follower holds no checkpoint at seq ${String(seq)}`);
  return snapshot;
}

function bounds(range: KeyRange): { gte?: Uint8Array; lt?: Uint8Array } {
  return { ...(range.gte && { gte: range.gte }), ...(range.lt && { lt: range.lt }) };
}

function uniqueKeys(keys: Uint8Array[]): Uint8Array[] {
  const sorted = [...keys].sort(compare);
  return sorted.filter((k, i) => i === 0 || compare(k, sorted[i - 1]!) !== 0);
}

function badBody(message: string): ClusterError {
  return new ClusterError('BAD_REQUEST', `anti-entropy: ${message}`);
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));
