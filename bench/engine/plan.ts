/**
 * The order of the run. Workloads that build on each other share one database per engine
 * (fillrandom, then overwrite, then a reopen, then the reads, then deletes). For each step
 * the engines take turns, in an order that rotates from step to step, and after its turn an
 * engine settles (unmeasured) until its background work has stopped, so no engine's
 * compaction runs during another's measurement. Data directories live under os.tmpdir() and
 * are removed at the end of each phase, also on failure or SIGINT/SIGTERM.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Recorder, type LatencySummary } from './recorder.ts';
import { directoryBytes, type BenchStore, type EngineName, type StoreFactory, type StoreFigures } from './store.ts';
import * as w from './workloads.ts';

export interface PlanOptions {
  /** Keys in the database, and operations per workload. */
  n: number;
  /** Puts per fillsync workload. */
  syncN: number;
  modes: w.Mode[];
  factories: StoreFactory[];
  /** Workload names to report; undefined for all. Setup steps run regardless. */
  only: ReadonlySet<string> | undefined;
  seed: number;
}

export interface Result {
  workload: string;
  mode: w.Mode;
  engine: EngineName;
  ops: number;
  calls: number;
  seconds: number;
  opsPerSec: number;
  mbPerSec: number;
  latencyUs: LatencySummary;
  found: number | undefined;
  settleSeconds: number;
  diskBytes: number;
  figures: StoreFigures;
}

type Step = { workload: w.Workload; ops: (o: PlanOptions) => number } | 'reopen';

interface Phase {
  name: string;
  sync: boolean;
  modes: readonly w.Mode[];
  steps: Step[];
}

const nOps = (o: PlanOptions) => o.n;
const syncOps = (o: PlanOptions) => o.syncN;

export const PHASES: readonly Phase[] = [
  { name: 'sequential fill', sync: false, modes: ['single', 'batch'], steps: [{ workload: w.fillseq, ops: nOps }] },
  {
    name: 'random fill, reads and deletes',
    sync: false,
    modes: ['single', 'batch'],
    steps: [
      { workload: w.fillrandom, ops: nOps },
      { workload: w.overwrite, ops: nOps },
      'reopen',
      { workload: w.readrandom, ops: nOps },
      { workload: w.readmissing, ops: nOps },
      { workload: w.readseq, ops: nOps },
      { workload: w.readreverse, ops: nOps },
      { workload: w.seekrandom, ops: nOps },
      { workload: w.deleterandom, ops: nOps },
    ],
  },
  { name: 'fillsync, 1 writer', sync: true, modes: ['single'], steps: [{ workload: w.fillsync1, ops: syncOps }] },
  { name: 'fillsync, 64 writers', sync: true, modes: ['single'], steps: [{ workload: w.fillsync64, ops: syncOps }] },
];

/** Runs every phase in every mode; calls `onResult` as each result comes in. */
export async function runPlan(o: PlanOptions, onResult: (r: Result) => void): Promise<Result[]> {
  const results: Result[] = [];
  for (const mode of o.modes) {
    for (const phase of PHASES) {
      if (!phase.modes.includes(mode)) continue;
      if (!phase.steps.some((s) => s !== 'reopen' && wanted(o, s.workload))) continue;
      process.stderr.write(`phase: ${phase.name} (${mode})\n`);
      await runPhase(o, phase, mode, (r) => {
        results.push(r);
        onResult(r);
      });
    }
  }
  return results;
}

function wanted(o: PlanOptions, workload: w.Workload): boolean {
  return o.only === undefined || o.only.has(workload.name);
}

/** Directories of the phase in progress, removed if the run is interrupted. */
const liveDirs = new Set<string>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`bench: ${signal}, removed ${liveDirs.size} data directories\n`);
    process.exit(130);
  });
}

async function runPhase(o: PlanOptions, phase: Phase, mode: w.Mode, onResult: (r: Result) => void): Promise<void> {
  const dirs = o.factories.map((f) => mkdtempSync(join(tmpdir(), `distribkv-bench-${f.engine}-`)));
  for (const dir of dirs) liveDirs.add(dir);
  const stores: Array<BenchStore | undefined> = [];
  try {
    for (let i = 0; i < o.factories.length; i++) stores[i] = await o.factories[i]!.open(dirs[i]!, phase.sync);
    let turn = 0;
    for (const step of phase.steps) {
      if (step === 'reopen') {
        for (let i = 0; i < stores.length; i++) {
          await stores[i]!.close();
          stores[i] = undefined;
          stores[i] = await o.factories[i]!.open(dirs[i]!, phase.sync);
          await settle(stores[i]!);
        }
        continue;
      }
      // The first step of a phase is its setup: it runs even when not reported.
      if (step !== phase.steps[0] && !wanted(o, step.workload)) continue;
      for (let k = 0; k < stores.length; k++) {
        const i = (k + turn) % stores.length;
        const result = await runStep(stores[i]!, step.workload, mode, o, step.ops(o));
        if (wanted(o, step.workload)) onResult(result);
      }
      turn++;
    }
  } finally {
    for (const s of stores) await s?.close().catch((err: unknown) => process.stderr.write(`close of ${s.engine} failed: ${String(err)}\n`));
    for (const dir of dirs) {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
  }
}

async function runStep(store: BenchStore, workload: w.Workload, mode: w.Mode, o: PlanOptions, ops: number): Promise<Result> {
  const recorder = new Recorder(`${store.engine} ${workload.name} (${mode})`, ops);
  let found: number | undefined;
  let seconds: number;
  try {
    found = await workload.run({ store, mode, n: o.n, ops, seed: seedOf(o.seed, workload.name), recorder });
    seconds = recorder.seconds();
  } catch (err) {
    recorder.close();
    throw new Error(`${store.engine} ${workload.name} (${mode}) failed`, { cause: err });
  }
  const settleStarted = performance.now();
  await settle(store);
  const settleSeconds = (performance.now() - settleStarted) / 1000;
  const result: Result = {
    workload: workload.name,
    mode,
    engine: store.engine,
    ops: recorder.ops,
    calls: recorder.calls,
    seconds,
    opsPerSec: recorder.ops / seconds,
    mbPerSec: w.megabytesPerSecond(recorder.ops, seconds),
    latencyUs: recorder.latency(),
    found,
    settleSeconds,
    diskBytes: directoryBytes(store.dir),
    figures: store.figures(),
  };
  recorder.close();
  return result;
}

const QUIET_WINDOW_MS = 100;
/** CPU the process may use in a quiet window while this thread sleeps: 5% of a core. */
const QUIET_CPU_US_MAX = 5_000;
const QUIET_WINDOWS = 3;
const QUIET_TIMEOUT_MS = 60_000;

/**
 * The store's own idea of idle, then the process's CPU: while this thread sleeps, any CPU the
 * process uses is some engine's background thread (LevelDB's compaction, lmdb's writer).
 */
async function settle(store: BenchStore): Promise<void> {
  await store.settle();
  const deadline = performance.now() + QUIET_TIMEOUT_MS;
  for (let quiet = 0; quiet < QUIET_WINDOWS && performance.now() < deadline; ) {
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS));
    const used = process.cpuUsage(before);
    quiet = used.user + used.system <= QUIET_CPU_US_MAX ? quiet + 1 : 0;
  }
}

/** The same seed for every engine running a workload, a different one per workload. */
function seedOf(base: number, name: string): number {
  let h = base >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
