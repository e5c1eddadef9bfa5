/**
 * Batched point lookups of this checkout's engine against another checkout's (and classic-level),
 * in ONE process, taking turns over the same batches: on a machine shared with other jobs, two
 * runs of the engine benchmark minutes apart moved by a factor of two, while sides that take
 * turns batch by batch see the same load. Reports CPU per key (`process.cpuUsage()`, every
 * thread, so classic-level's thread-pool work counts) and wall time per key.
 *
 *   node --import tsx bench/micro/reads-ab.ts --base /path/to/other/checkout [--dir /tmp/reads-ab]
 *        [--cache-mib 8] [--batches 300] [--classic] [--read-thread]
 *
 * The store is made once in --dir as bench/engine makes readrandom's (1,000,000 keys of 16 bytes
 * filled in random order, then 1,000,000 overwrites of random keys, 100-byte values), left to
 * settle, and copied so each engine opens its own; later runs reuse it. Not part of
 * `npm run bench:micro`: it takes minutes and another checkout.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { keyOf, permutation, Random, ValuePool } from '../engine/keys.ts';
import { classicLevel } from '../engine/stores/classic-level.ts';

const KEYS = 1_000_000;
const BATCH = 1000;
const WARM_BATCHES = 200;

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    dir: { type: 'string', default: '/tmp/reads-ab' },
    'cache-mib': { type: 'string', default: '8' },
    batches: { type: 'string', default: '300' },
    classic: { type: 'boolean', default: false },
    'read-thread': { type: 'boolean', default: false },
  },
});
if (values.base === undefined) throw new Error('reads-ab: --base /path/to/other/checkout is required');

interface Side {
  name: string;
  getMany(keys: Uint8Array[]): Promise<unknown>;
  close(): Promise<void>;
}

type DbClass = typeof import('../../engine/index.ts').Db;
const dbOf = async (checkout: string): Promise<DbClass> => ((await import(join(resolve(checkout), 'engine/index.ts'))) as { Db: DbClass }).Db;

async function fill(put: (keys: Uint8Array[], values: Uint8Array[]) => Promise<unknown>): Promise<void> {
  const order = permutation(KEYS, new Random(1));
  const pool = new ValuePool(new Random(1));
  const overwrites = new Random(2);
  for (let i = 0; i < 2 * KEYS; i += BATCH) {
    const keys: Uint8Array[] = [];
    const vals: Uint8Array[] = [];
    for (let j = i; j < i + BATCH; j++) {
      keys.push(keyOf(j < KEYS ? order[j]! : overwrites.uniform(KEYS)));
      vals.push(pool.next());
    }
    await put(keys, vals);
  }
}

/** Makes the store once (this checkout's engine), then reopens it until compactions stop. */
async function makeStore(Db: DbClass, dir: string): Promise<void> {
  const db = await Db.open(dir);
  await fill((keys, vals) => db.batch(keys.map((key, i) => ({ type: 'put' as const, key, value: vals[i]! }))));
  await db.close();
  const reopened = await Db.open(dir);
  for (let last = -1; reopened.stats().compactions !== last; ) {
    last = reopened.stats().compactions;
    await new Promise((r) => setTimeout(r, 3000));
  }
  await reopened.close();
}

async function main(): Promise<void> {
  const here = await dbOf(new URL('../..', import.meta.url).pathname);
  const base = await dbOf(values.base!);
  const ours = join(values.dir, 'distribkv');
  if (!existsSync(ours)) {
    console.error(`making the store in ${ours} (a few minutes)`);
    await makeStore(here, ours);
  }
  const copy = join(values.dir, 'distribkv-copy');
  rmSync(copy, { recursive: true, force: true });
  cpSync(ours, copy, { recursive: true });
  const options = { blockCacheBytes: Number(values['cache-mib']) * 1024 * 1024, readThread: values['read-thread'] };
  const sides: Side[] = [];
  for (const [name, Db, dir] of [['base', base, copy], ['this checkout', here, ours]] as const) {
    const db = await Db.open(dir, options);
    sides.push({ name, getMany: (keys) => db.getMany(keys), close: () => db.close() });
  }
  if (values.classic) {
    const dir = join(values.dir, 'classic-level');
    if (!existsSync(dir)) {
      const store = await classicLevel.open(dir, false);
      await fill((keys, vals) => store.putBatch(keys, vals));
      await store.close();
    }
    const store = await classicLevel.open(dir, false);
    await store.settle();
    sides.push({ name: 'classic-level', getMany: (keys) => store.getBatch(keys), close: () => store.close() });
  }
  const random = new Random(7);
  const batch = () => Array.from({ length: BATCH }, () => keyOf(random.uniform(KEYS)));
  for (let i = 0; i < WARM_BATCHES; i++) {
    const keys = batch();
    for (const side of sides) await side.getMany(keys);
  }
  const cpu = sides.map(() => 0);
  const wall = sides.map(() => 0);
  const batches = Number(values.batches);
  for (let r = 0; r < batches; r++) {
    const keys = batch();
    for (let k = 0; k < sides.length; k++) {
      const i = (k + r) % sides.length; // each side goes first as often
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await sides[i]!.getMany(keys);
      wall[i] = wall[i]! + performance.now() - t0;
      const used = process.cpuUsage(cpu0);
      cpu[i] = cpu[i]! + used.user + used.system;
    }
  }
  const ops = batches * BATCH;
  for (let i = 0; i < sides.length; i++) {
    console.log(`${sides[i]!.name.padEnd(14)} ${(cpu[i]! / ops).toFixed(2)} µs CPU a key, ${((wall[i]! * 1000) / ops).toFixed(2)} µs wall; against base: CPU ${(cpu[i]! / cpu[0]!).toFixed(3)}x, wall ${(wall[i]! / wall[0]!).toFixed(3)}x`);
  }
  for (const side of sides) await side.close();
}

await main();
