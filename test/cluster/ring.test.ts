/**
 * The consistent-hashing ring: balance, movement when a shard is added, determinism.
 * Pure code; no processes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hash64, Ring } from '../../cluster/index.ts';

const KEY_COUNT = 1_000_000;
const encoder = new TextEncoder();
const names = (n: number) => Array.from({ length: n }, (_, i) => `shard-${i}`);

describe('Ring', () => {
  it('spreads 1,000,000 keys over 4 shards with 128 vnodes so the busiest holds at most 1.15x the mean, and a fifth shard takes about 1/5 of them', (t) => {
    const started = performance.now();
    const four = Ring.build(names(4), 128);
    const five = Ring.build(names(5), 128);
    const counts = new Array<number>(4).fill(0);
    let moved = 0;
    let movedOffShardFour = 0;
    let movedByModulo = 0;
    for (let i = 0; i < KEY_COUNT; i++) {
      const hash = hash64(encoder.encode(`key-${i}`));
      const before = four.shardNames[four.ownerOfHash(hash)]!;
      const afterAdd = five.shardNames[five.ownerOfHash(hash)]!;
      counts[four.ownerOfHash(hash)]!++;
      if (before !== afterAdd) {
        moved++;
        if (afterAdd !== 'shard-4') movedOffShardFour++;
      }
      // What `hash % n` would do, on the low 32 bits (enough to show the effect).
      if (hash.low % 4 !== hash.low % 5) movedByModulo++;
    }
    const mean = KEY_COUNT / 4;
    const busiest = Math.max(...counts) / mean;
    const movedShare = moved / KEY_COUNT;
    const moduloShare = movedByModulo / KEY_COUNT;
    t.diagnostic(`shares ${counts.join(', ')}; busiest ${busiest.toFixed(3)}x mean; moved ${movedShare.toFixed(3)} (modulo ${moduloShare.toFixed(3)}); ${(performance.now() - started).toFixed(0)} ms`);
    assert.ok(busiest <= 1.15, `busiest shard holds ${busiest.toFixed(3)}x the mean`);
    assert.ok(movedShare > 0.15 && movedShare < 0.25, `adding a fifth shard moved ${movedShare}`);
    assert.equal(movedOffShardFour, 0, 'every moved key moves onto the new shard');
    assert.ok(moduloShare > 0.75, `modulo hashing would move ${moduloShare}`);
  });

  it('places keys the same way whatever order the shards are listed in', () => {
    const a = Ring.build(['c', 'a', 'b'], 16);
    const b = Ring.build(['a', 'b', 'c'], 16);
    for (let i = 0; i < 1000; i++) {
      const key = encoder.encode(`k${i}`);
      assert.equal(a.shardOf(key), b.shardOf(key));
    }
  });

  it('gives every key to the only shard of a one-shard ring, including keys past the last vnode', () => {
    const ring = Ring.build(['only'], 1);
    assert.equal(ring.ownerOfHash({ high: 0xffffffff, low: 0xffffffff }), 0);
    assert.equal(ring.ownerOfHash({ high: 0, low: 0 }), 0);
    assert.equal(ring.shardOf(new Uint8Array(0)), 'only');
  });

  it('wraps a key past the last point to the first point clockwise', () => {
    const ring = Ring.build(names(3), 8);
    const first = ring.ownerOfHash({ high: 0, low: 0 });
    assert.equal(ring.ownerOfHash({ high: 0xffffffff, low: 0xffffffff }), first);
  });

  it('hashes keys with XXHash64, big-endian', () => {
    // The canonical XXH64 of the empty input, seed 0.
    assert.deepEqual(hash64(new Uint8Array(0)), { high: 0xef46db37, low: 0x51d8e999 });
  });

  it('refuses no shards, repeated names and a non-positive vnode count', () => {
    assert.throws(() => Ring.build([], 8), RangeError);
    assert.throws(() => Ring.build(['a', 'a'], 8), /distinct/);
    assert.throws(() => Ring.build(['a'], 0), /vnodes/);
  });
});
