import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import {
  BLOOM_HASH_SEED,
  bloomFilterInfo,
  bloomHash,
  bloomMayContain,
  bloomProbes,
  buildBloomFilter,
} from '../../engine/sst/bloom.ts';
import { randomBytes, utf8 } from './sst-fixtures.ts';

function keyOf(i: number): Uint8Array {
  // Little-endian i, as LevelDB's bloom_test does: consecutive keys differ in one byte.
  return Uint8Array.of(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, (i >>> 24) & 0xff);
}

test('the hash matches LevelDB Hash test vectors, so filters are comparable', () => {
  assert.equal(bloomHash(new Uint8Array(0)), BLOOM_HASH_SEED);
  assert.equal(bloomHash(Uint8Array.of(0x62)), 0xef1345c4);
  assert.equal(bloomHash(Uint8Array.of(0xc3, 0x97)), 0x5b663814);
  assert.equal(bloomHash(Uint8Array.of(0xe2, 0x99, 0xa5)), 0x323c078f);
  assert.equal(bloomHash(Uint8Array.of(0xe1, 0x80, 0xb9, 0x32)), 0xed21633a);
});

test('the hash of a sub-range equals the hash of a copy of it', () => {
  const buf = utf8('xxhello worldyy');
  assert.equal(bloomHash(buf, 2, 13), bloomHash(utf8('hello world')));
});

test('the filter stores k = round(bits per key * ln 2) in its last byte', () => {
  assert.equal(bloomProbes(10), 7);
  assert.equal(bloomProbes(1), 1);
  assert.equal(bloomProbes(64), 30);
  const filter = buildBloomFilter([utf8('a'), utf8('b')], 10);
  assert.equal(filter.at(-1), 7);
  assert.deepEqual(bloomFilterInfo(filter), { bytes: 9, probes: 7, bits: 64 });
});

test('a filter has no false negatives, for any number of keys', () => {
  for (const n of [1, 10, 100, 1000, 10_000]) {
    const keys = Array.from({ length: n }, (_, i) => keyOf(i));
    const filter = buildBloomFilter(keys, 10);
    for (const key of keys) assert.ok(bloomMayContain(filter, key), `key ${key.join(',')} of ${n} is missing`);
  }
});

test('the false positive rate is about 1% at 10 bits per key', () => {
  const random = seededRandom(11);
  const keys = Array.from({ length: 10_000 }, () => randomBytes(random, 16, 256));
  const filter = buildBloomFilter(keys, 10);
  const probes = 100_000;
  let positives = 0;
  for (let i = 0; i < probes; i++) if (bloomMayContain(filter, randomBytes(random, 17, 256))) positives++;
  const rate = positives / probes;
  assert.ok(rate > 0.003 && rate < 0.02, `false positive rate ${(rate * 100).toFixed(2)}%`);
});

test('sequential keys (LevelDB varying-lengths test) stay under 2% false positives', () => {
  for (const n of [10, 100, 1000, 10_000]) {
    const filter = buildBloomFilter(Array.from({ length: n }, (_, i) => keyOf(i)), 10);
    let positives = 0;
    for (let i = 0; i < 10_000; i++) if (bloomMayContain(filter, keyOf(i + 1_000_000_000))) positives++;
    assert.ok(positives / 10_000 < 0.02, `${n} keys: ${positives} false positives in 10000`);
  }
});

test('an empty filter rules everything out, and an unknown encoding rules nothing out', () => {
  const empty = buildBloomFilter([], 10);
  assert.equal(bloomMayContain(empty, utf8('hello')), false);
  const future = new Uint8Array(9);
  future[8] = 31;
  assert.equal(bloomMayContain(future, utf8('hello')), true);
  assert.equal(bloomMayContain(new Uint8Array(0), utf8('hello')), false);
});
