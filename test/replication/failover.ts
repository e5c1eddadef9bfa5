/**
 * The steps failover tests share: wait for a write load to reach a point, promote the most
 * up-to-date replica once the replicas have noticed their leader is gone, and count a
 * history's outcomes for the test's report.
 */
import type { HistoryEvent } from '../checker/index.ts';
import { nodeView, promote, waitFor, waitLeaderGone } from './nodes.ts';
import type { Load } from './write-load.ts';

/**
 * Time a failover test's write load may run, at most: a safety bound only, far above what a
 * busy 2-core machine needs, since the tests stop their loads by killing the leader.
 */
export const LOAD_DURATION_MS_MAX = 180_000;

/**
 * Waits until `reached()` holds for the load; fails, saying how far the load got, if the load
 * ends first (its workers stop at the first connection failure) or within its time bound.
 * Never a silent timeout: a test that goes on without the writes it waited for tests less.
 */
export async function waitForLoad(load: Load, what: string, reached: () => boolean): Promise<void> {
  let ended = false;
  void load.done.then(() => (ended = true));
  await waitFor(what, () => reached() || ended, LOAD_DURATION_MS_MAX);
  if (!reached()) throw new Error(`the write load ended before ${what}: ${load.acknowledged()} acknowledged, ${load.unacknowledged()} not`);
}

export interface Failover {
  newLeader: string;
  /** Each replica's last sequence number when the choice was made. */
  positions: number[];
  epoch: number;
  unreachable: string[];
}

/** Waits until `replicas` have stopped applying, then promotes the one that applied most. */
export async function promoteMostUpToDate(replicas: readonly string[]): Promise<Failover> {
  await waitLeaderGone(replicas);
  const positions = await Promise.all(replicas.map(async (r) => (await nodeView(r)).lastSequence));
  const newLeader = replicas[positions.indexOf(Math.max(...positions))]!;
  const report = await promote(newLeader);
  if (report.lastSequence !== Math.max(...positions)) throw new Error(`promoted at seq ${report.lastSequence}, chosen at ${Math.max(...positions)}`);
  return { newLeader, positions, epoch: report.epoch, unreachable: report.unreachable };
}

export function countOutcomes(events: readonly HistoryEvent[]): { ok: number; fail: number; info: number } {
  const counts = { ok: 0, fail: 0, info: 0 };
  let invokes = 0;
  for (const e of events) {
    if (e.kind === 'invoke') invokes++;
    else counts[e.kind]++;
  }
  // An operation never completed counts as unknown.
  counts.info += invokes - counts.ok - counts.fail - counts.info;
  return counts;
}
