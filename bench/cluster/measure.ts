/**
 * One measured run, whoever generates the load (autocannon, the client library,
 * redis-benchmark): wait until every process of the benchmark is quiet, warm up, then run
 * and account for the CPU each kind of process spent, how long their event loops waited for
 * a CPU, and how busy the rest of the machine kept the cores meanwhile.
 *
 * Every group is waited on before a run, not only the measured one: a flush or a catch-up
 * left in another arena would slow this run as much as one of its own.
 */
import { machineBusySeconds, type CpuSeconds, type ProcessGroup, type Role } from './processes.ts';
import type { RunFigures } from './recorder.ts';

/** Before each run, the benchmark's processes must use under QUIET_CORES_MAX of CPU over a window (waiting a while at most). */
const QUIET_CORES_MAX = 0.05;
/** Other processes busier than this during a run are reported: the run's figures are skewed. */
const OTHER_CORES_WARN = 0.15;
const QUIET = { full: { windowMs: 500, waitMs: 60_000 }, quick: { windowMs: 200, waitMs: 4_000 } };

export interface MeasureContext {
  quick: boolean;
  /** Every process group of the benchmark (waited on before each run). */
  groups: readonly ProcessGroup[];
  say(line: string): void;
}

/** Runs the load for `seconds`; `seedOffset` tells a warm-up from the measured run. */
export type Load = (seconds: number, seedOffset: number) => Promise<RunFigures>;

/** A warm-up run of `warmupSeconds` (none if 0), then the measured one; CPU figures from `group`. */
export async function measure(context: MeasureContext, group: ProcessGroup, label: string, load: Load, seconds: number, warmupSeconds: number): Promise<RunFigures> {
  const quiet = context.quick ? QUIET.quick : QUIET.full;
  for (const g of context.groups) {
    if (!(await g.waitQuiet(QUIET_CORES_MAX, quiet.windowMs, quiet.waitMs))) context.say(`  (the processes did not go quiet within ${quiet.waitMs / 1000} s before ${label}; measuring anyway)`);
  }
  if (warmupSeconds > 0) await load(warmupSeconds, 1000);
  const cpuBefore = group.cpuSeconds();
  const waitBefore = group.waitSeconds();
  const machineBefore = machineBusySeconds();
  const figures = await load(seconds, 0);
  const machineAfter = machineBusySeconds();
  const cpuAfter = group.cpuSeconds();
  const waitAfter = group.waitSeconds();
  if (machineBefore !== undefined && machineAfter !== undefined) {
    const ours = Object.entries(cpuAfter).reduce((sum, [role, s]) => sum + s - (cpuBefore[role as keyof CpuSeconds] ?? 0), 0);
    figures.otherCores = Math.max(0, (machineAfter - machineBefore - ours) / figures.seconds);
    if (figures.otherCores > OTHER_CORES_WARN) context.say(`  (other processes kept ${figures.otherCores.toFixed(2)} cores busy during ${label}: its figures are skewed)`);
  }
  figures.cpuSeconds = Object.fromEntries(Object.entries(cpuAfter).map(([role, s]) => [role, s - (cpuBefore[role as keyof CpuSeconds] ?? 0)]));
  figures.cpuWaitShare = Object.fromEntries((Object.entries(waitAfter) as [Role, number][]).map(([role, s]) => [role, (s - (waitBefore[role] ?? 0)) / figures.seconds / Math.max(1, group.count(role))]));
  return figures;
}
