/**
 * Runs a range of seeded schedules and fails the test at the first violation, naming the seed
 * and the command that replays it. Shared by the simulation test files (one per group size, so
 * the test runner can run them side by side).
 *
 * RAFT_SIM_SEEDS scales the count (default: the caller's), RAFT_SIM_SEED shifts the first seed
 * (default 1), RAFT_SIM_STEPS sets the fault sub-steps per schedule (default 150).
 */
import assert from 'node:assert/strict';
import { replayCommand, runSchedule, type SimulationOptions } from './simulator.ts';

export interface Totals {
  schedules: number;
  crashes: number;
  snapshots: number;
  commits: number;
  transfers: number;
  membershipChanges: number;
}

export function scheduleCount(fallback: number, share: number): number {
  const seeds = process.env.RAFT_SIM_SEEDS;
  return seeds === undefined ? fallback : Math.max(1, Math.round(Number(seeds) * share));
}

export async function runMany(nodes: 3 | 5, count: number, seedOffset: number): Promise<Totals> {
  const first = Number(process.env.RAFT_SIM_SEED ?? 1) + seedOffset;
  const faultSteps = Number(process.env.RAFT_SIM_STEPS ?? 150);
  const totals: Totals = { schedules: 0, crashes: 0, snapshots: 0, commits: 0, transfers: 0, membershipChanges: 0 };
  for (let k = 0; k < count; k++) {
    const options: SimulationOptions = { seed: first + k, nodes, faultSteps, healSteps: 600 };
    const report = await runSchedule(options);
    assert.equal(report.violation, undefined, `seed ${options.seed}: ${report.violation}\nreplay: ${replayCommand(options)}`);
    totals.schedules++;
    totals.crashes += report.stats.crashes;
    totals.snapshots += report.stats.snapshotRestores;
    totals.commits += report.stats.highestCommit;
    totals.transfers += report.stats.transfers;
    totals.membershipChanges += report.stats.membershipChanges;
  }
  return totals;
}

export function describeTotals(t: Totals): string {
  return `${t.schedules} schedules, 0 violations; ${t.crashes} crash-restarts, ${t.snapshots} snapshot installs, ${t.transfers} transfers, ${t.membershipChanges} membership changes, ${t.commits} entries committed`;
}
