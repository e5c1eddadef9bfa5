/**
 * The steps failover tests share: promote the most up-to-date replica once the replicas have
 * noticed their leader is gone, and count a history's outcomes for the test's report.
 */
import type { HistoryEvent } from '../checker/index.ts';
import { nodeView, promote, waitLeaderGone } from './nodes.ts';

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
