/**
 * The workloads, after LevelDB's benchmarks/db_bench.cc. Each runs against one open store in
 * one mode ("single": one awaited operation per call; "batch": BATCH_OPS per call) and
 * reports what it found. Keys come from a seeded generator, so every engine sees the same
 * sequence. Order matters: the plan (plan.ts) runs them on a database in a fixed order.
 */
import { ENTRY_BYTES, keyOf, missingKeyOf, permutation, Random, ValuePool } from './keys.ts';
import { Recorder } from './recorder.ts';
import { BATCH_OPS, type BenchStore } from './store.ts';

export type Mode = 'single' | 'batch';

export interface WorkloadRun {
  store: BenchStore;
  mode: Mode;
  /** Keys in the database: 0..n-1. */
  n: number;
  /** Operations to make (reads and writes), usually n. */
  ops: number;
  seed: number;
  recorder: Recorder;
}

export interface Workload {
  name: string;
  /** What the workload does, for the report. */
  about: string;
  /** Returns how many reads found their key, where that means something. */
  run(r: WorkloadRun): Promise<number | undefined>;
}

/** Index of the i-th key a workload touches. */
type KeySequence = (i: number) => number;

const sequential = (): KeySequence => (i) => i;
function shuffled(n: number, seed: number): KeySequence {
  const order = permutation(n, new Random(seed));
  return (i) => order[i]!;
}
function uniform(n: number, seed: number): KeySequence {
  const random = new Random(seed);
  return () => random.uniform(n);
}

const keysOf = (order: KeySequence, make: (index: number) => Uint8Array) => (i: number) => make(order(i));

async function writeKeys(r: WorkloadRun, order: KeySequence): Promise<undefined> {
  const values = new ValuePool(new Random(r.seed));
  const { store, recorder } = r;
  if (r.mode === 'single') {
    for (let i = 0; i < r.ops; i++) {
      const key = keyOf(order(i));
      const value = values.next();
      const t = performance.now();
      await store.put(key, value);
      recorder.record(t, 1);
    }
    return undefined;
  }
  for (let i = 0; i < r.ops; i += BATCH_OPS) {
    const count = Math.min(BATCH_OPS, r.ops - i);
    const keys = Array.from({ length: count }, (_, j) => keyOf(order(i + j)));
    const batchValues = Array.from({ length: count }, () => values.next());
    const t = performance.now();
    await store.putBatch(keys, batchValues);
    recorder.record(t, count);
  }
  return undefined;
}

async function readKeys(r: WorkloadRun, keyAt: (i: number) => Uint8Array): Promise<number> {
  const { store, recorder } = r;
  let found = 0;
  if (r.mode === 'single') {
    for (let i = 0; i < r.ops; i++) {
      const key = keyAt(i);
      const t = performance.now();
      const length = await store.get(key);
      recorder.record(t, 1);
      if (length >= 0) found++;
    }
    return found;
  }
  for (let i = 0; i < r.ops; i += BATCH_OPS) {
    const keys = Array.from({ length: Math.min(BATCH_OPS, r.ops - i) }, (_, j) => keyAt(i + j));
    const t = performance.now();
    found += await store.getBatch(keys);
    recorder.record(t, keys.length);
  }
  return found;
}

async function scan(r: WorkloadRun, reverse: boolean): Promise<number> {
  const { recorder } = r;
  const cursor = r.store.cursor(reverse);
  for (;;) {
    const t = performance.now();
    const read = r.mode === 'single' ? ((await cursor.next()) ? 1 : 0) : await cursor.nextBatch();
    if (read === 0) break;
    recorder.record(t, read);
  }
  await cursor.close();
  return recorder.ops;
}

async function seekKeys(r: WorkloadRun, order: KeySequence): Promise<number> {
  const { store, recorder } = r;
  let found = 0;
  if (r.mode === 'single') {
    for (let i = 0; i < r.ops; i++) {
      const key = keyOf(order(i));
      const t = performance.now();
      if (await store.seek(key)) found++;
      recorder.record(t, 1);
    }
    return found;
  }
  for (let i = 0; i < r.ops; i += BATCH_OPS) {
    const keys = Array.from({ length: Math.min(BATCH_OPS, r.ops - i) }, (_, j) => keyOf(order(i + j)));
    const t = performance.now();
    found += await store.seekBatch(keys);
    recorder.record(t, keys.length);
  }
  return found;
}

async function deleteKeys(r: WorkloadRun, order: KeySequence): Promise<undefined> {
  const { store, recorder } = r;
  if (r.mode === 'single') {
    for (let i = 0; i < r.ops; i++) {
      const key = keyOf(order(i));
      const t = performance.now();
      await store.del(key);
      recorder.record(t, 1);
    }
    return undefined;
  }
  for (let i = 0; i < r.ops; i += BATCH_OPS) {
    const keys = Array.from({ length: Math.min(BATCH_OPS, r.ops - i) }, (_, j) => keyOf(order(i + j)));
    const t = performance.now();
    await store.delBatch(keys);
    recorder.record(t, keys.length);
  }
  return undefined;
}

/** `writers` concurrent writers, each awaiting its own put before the next, sharing r.ops puts. */
async function concurrentPuts(r: WorkloadRun, writers: number): Promise<undefined> {
  const order = shuffled(r.ops, r.seed);
  const values = new ValuePool(new Random(r.seed));
  let next = 0;
  const writer = async (): Promise<void> => {
    for (let i = next++; i < r.ops; i = next++) {
      const key = keyOf(order(i));
      const t = performance.now();
      await r.store.put(key, values.next());
      r.recorder.record(t, 1);
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  return undefined;
}

export const fillseq: Workload = { name: 'fillseq', about: 'n puts in key order into an empty database', run: (r) => writeKeys(r, sequential()) };
export const fillrandom: Workload = { name: 'fillrandom', about: 'n puts of every key once, in random order, into an empty database', run: (r) => writeKeys(r, shuffled(r.n, r.seed)) };
export const overwrite: Workload = { name: 'overwrite', about: 'n puts of uniformly random existing keys', run: (r) => writeKeys(r, uniform(r.n, r.seed)) };
export const readrandom: Workload = {
  name: 'readrandom',
  about: 'n gets of uniformly random existing keys, after a reopen (reads come from tables)',
  run: (r) => readKeys(r, keysOf(uniform(r.n, r.seed), keyOf)),
};
export const readmissing: Workload = {
  name: 'readmissing',
  about: 'n gets of absent keys (a present key plus "."), falling between present ones',
  run: (r) => readKeys(r, keysOf(uniform(r.n, r.seed), missingKeyOf)),
};
export const readseq: Workload = { name: 'readseq', about: 'one iterator over every entry, in key order', run: (r) => scan(r, false) };
export const readreverse: Workload = { name: 'readreverse', about: 'one iterator over every entry, in reverse key order', run: (r) => scan(r, true) };
export const seekrandom: Workload = {
  name: 'seekrandom',
  about: 'n seeks to uniformly random keys, each reading one entry (single: a new iterator per seek)',
  run: (r) => seekKeys(r, uniform(r.n, r.seed)),
};
export const deleterandom: Workload = { name: 'deleterandom', about: 'n deletes of uniformly random keys', run: (r) => deleteKeys(r, uniform(r.n, r.seed)) };
export const fillsync1: Workload = { name: 'fillsync-1', about: 'sync puts, 1 writer awaiting each', run: (r) => concurrentPuts(r, 1) };
export const fillsync64: Workload = { name: 'fillsync-64', about: 'sync puts, 64 concurrent writers each awaiting its own', run: (r) => concurrentPuts(r, 64) };

/** MB/s as db_bench counts it: key and value bytes of the operations made. */
export function megabytesPerSecond(ops: number, seconds: number): number {
  return (ops * ENTRY_BYTES) / seconds / 1e6;
}
