/**
 * Micro-benchmark: the SSTable bloom filter (engine/sst/bloom.ts) against the `bloom-filters`
 * npm package's BloomFilter, at the same budget (10 bits per key, 7 probes), on the same keys.
 * Reports build time per key, probe time per key (present and absent keys), the measured false
 * positive rate and the serialized size. The numbers are recorded in docs/decisions.md.
 *
 *   npx tsx bench/micro/bloom.ts [keyCount]        (default 10000 keys, 16 random bytes each)
 *
 * Also run by `npm run bench:micro` (main.ts), at the default key count.
 */
import b from 'benny';
import bloomFilters from 'bloom-filters';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { bloomMayContain, buildBloomFilter } from '../../engine/sst/bloom.ts';
import { isMain } from './common.ts';

// A CommonJS package: its named exports are properties of the default import under ESM.
const { BloomFilter } = bloomFilters;
type BloomFilter = InstanceType<typeof BloomFilter>;

const KEY_BYTES = 16;
const BITS_PER_KEY = 10;
const PROBES_K = 7;
/** bloom-filters' has() is slow; probe it with fewer keys per benchmark op. */
const PACKAGE_PROBE_KEYS = 1000;
const FALSE_POSITIVE_PROBES = 100_000;

const DEFAULT_KEY_COUNT = 10_000;
let keyCount = DEFAULT_KEY_COUNT;
const random = seededRandom(42);
const randomKey = (): Uint8Array => {
  const key = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) key[i] = Math.floor(random() * 256);
  return key;
};
let keys: Uint8Array[] = [];
let absent: Uint8Array[] = [];
// The package hashes strings or Buffers; Buffers are views of the same bytes (no copy).
let keyBuffers: Buffer[] = [];
let absentBuffers: Buffer[] = [];
let ours: Uint8Array;
let theirs: BloomFilter;

function buildPackageFilter(): BloomFilter {
  const filter = new BloomFilter(keyCount * BITS_PER_KEY, PROBES_K);
  for (const key of keyBuffers) filter.add(key);
  return filter;
}

let sink = 0;
const config = b.configure({ cases: { minSamples: 5, maxTime: 2 } });

/** ns per key from a benny result whose op handled `keysPerOp` keys. */
const perKeyNs = (ops: number, keysPerOp: number): number => 1e9 / (ops * keysPerOp);

/** Runs the comparison over `count` random keys. */
export async function runBloom(count = DEFAULT_KEY_COUNT): Promise<void> {
  keyCount = count;
  keys = Array.from({ length: keyCount }, randomKey);
  absent = Array.from({ length: keyCount }, () => randomKey().subarray(0, KEY_BYTES - 1));
  keyBuffers = keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength));
  absentBuffers = absent.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength));
  ours = buildBloomFilter(keys, BITS_PER_KEY);
  theirs = buildPackageFilter();
  const build = await b.suite(
    `bloom build (${keyCount} keys)`,
    config,
    b.add('distribkv bloom', () => {
      sink += buildBloomFilter(keys, BITS_PER_KEY).length;
    }),
    b.add('bloom-filters', () => {
      sink += buildPackageFilter()._size;
    }),
    b.cycle(),
  );
  const probe = await b.suite(
    'bloom probe',
    config,
    b.add('distribkv bloom, present keys', () => {
      for (const key of keys) if (bloomMayContain(ours, key)) sink++;
    }),
    b.add('distribkv bloom, absent keys', () => {
      for (const key of absent) if (bloomMayContain(ours, key)) sink++;
    }),
    b.add('bloom-filters, present keys', () => {
      for (let i = 0; i < PACKAGE_PROBE_KEYS; i++) if (theirs.has(keyBuffers[i]!)) sink++;
    }),
    b.add('bloom-filters, absent keys', () => {
      for (let i = 0; i < PACKAGE_PROBE_KEYS; i++) if (theirs.has(absentBuffers[i]!)) sink++;
    }),
    b.cycle(),
  );
  const [oursBuild, theirsBuild] = build.results;
  console.log('\nper key:');
  console.log(`  build  distribkv ${perKeyNs(oursBuild!.ops, keyCount).toFixed(1)} ns, bloom-filters ${perKeyNs(theirsBuild!.ops, keyCount).toFixed(1)} ns`);
  const [p, a, pp, pa] = probe.results;
  console.log(`  probe  distribkv ${perKeyNs(p!.ops, keyCount).toFixed(1)} ns present / ${perKeyNs(a!.ops, keyCount).toFixed(1)} ns absent`);
  console.log(`         bloom-filters ${perKeyNs(pp!.ops, PACKAGE_PROBE_KEYS).toFixed(1)} ns present / ${perKeyNs(pa!.ops, PACKAGE_PROBE_KEYS).toFixed(1)} ns absent`);
  reportAccuracyAndSize();
  if (sink === -1) console.log(sink);
}

function reportAccuracyAndSize(): void {
  let oursFalse = 0;
  let theirsFalse = 0;
  for (let i = 0; i < FALSE_POSITIVE_PROBES; i++) {
    const key = randomKey().subarray(0, KEY_BYTES - 1);
    if (bloomMayContain(ours, key)) oursFalse++;
    if (theirs.has(Buffer.from(key.buffer, key.byteOffset, key.byteLength))) theirsFalse++;
  }
  const rate = (n: number) => `${((n / FALSE_POSITIVE_PROBES) * 100).toFixed(2)}%`;
  console.log(`  false positives over ${FALSE_POSITIVE_PROBES} absent keys: distribkv ${rate(oursFalse)}, bloom-filters ${rate(theirsFalse)}`);
  const json = JSON.stringify(theirs.saveAsJSON());
  console.log(`  serialized: distribkv ${ours.length} bytes (raw), bloom-filters ${json.length} bytes (JSON)`);
}

if (isMain(import.meta.url)) await runBloom(Number(process.argv[2] ?? DEFAULT_KEY_COUNT));
