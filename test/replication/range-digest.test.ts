/**
 * Anti-entropy's comparisons (cluster/replication/range-digest.ts): both sides digest the same
 * ranges alike, a change to one key makes exactly its range differ, and the key-by-key
 * comparison names exactly the keys that differ. Pure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cutAndDigest, differingKeys, differingRanges, digestByStarts, hashValue, type KeyHash } from '../../cluster/replication/range-digest.ts';

const enc = new TextEncoder();
type Entry = [Uint8Array, Uint8Array];

async function* entries(map: Map<string, string>): AsyncGenerator<Entry> {
  for (const key of [...map.keys()].sort()) yield [enc.encode(key), enc.encode(map.get(key)!)];
}

function data(n: number): Map<string, string> {
  return new Map(Array.from({ length: n }, (_, i) => [`k${String(i).padStart(4, '0')}`, `v${i}`]));
}

describe('range digests', () => {
  it('agree between the side that cuts the ranges and the side that is given them', async () => {
    const leader = await cutAndDigest(entries(data(1000)), 64);
    assert.equal(leader.ranges.length, 16);
    assert.equal(leader.ranges[0]!.gte, undefined);
    assert.equal(leader.ranges.at(-1)!.lt, undefined);
    const starts = leader.ranges.slice(1).map((r) => r.gte!);
    const follower = await digestByStarts(entries(data(1000)), starts);
    assert.deepEqual(follower, leader.summaries);
    assert.deepEqual(differingRanges(leader.summaries, follower), []);
  });

  it('single out the range of a changed, missing or extra key', async () => {
    const base = data(1000);
    const leader = await cutAndDigest(entries(base), 100);
    const starts = leader.ranges.slice(1).map((r) => r.gte!);
    const changed = new Map(base).set('k0250', 'other');
    const missing = new Map(base);
    missing.delete('k0999');
    const extra = new Map(base).set('k0500x', 'new');
    assert.deepEqual(differingRanges(leader.summaries, await digestByStarts(entries(changed), starts)), [2]);
    assert.deepEqual(differingRanges(leader.summaries, await digestByStarts(entries(missing), starts)), [9]);
    assert.deepEqual(differingRanges(leader.summaries, await digestByStarts(entries(extra), starts)), [5]);
    // An empty follower differs wherever the leader has keys.
    assert.deepEqual(differingRanges(leader.summaries, await digestByStarts(entries(new Map()), starts)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('name exactly the keys on which two sides differ', () => {
    fc.assert(fc.property(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.string({ maxLength: 3 })),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.string({ maxLength: 3 })),
      (a, b) => {
        const hashes = (d: Record<string, string>): KeyHash[] =>
          Object.keys(d).map((k) => [enc.encode(k), hashValue(enc.encode(d[k]!))] as const).sort((x, y) => Buffer.compare(x[0], y[0]));
        const found = differingKeys(hashes(a), hashes(b)).map((k) => new TextDecoder().decode(k)).sort();
        const expected = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
        assert.deepEqual(found, expected);
      },
    ));
  });

  it('compare only below where a cut-short list stopped', () => {
    const h = (k: string, v: string): KeyHash => [enc.encode(k), hashValue(enc.encode(v))];
    const leader = [h('a', '1'), h('b', '2'), h('c', '3'), h('d', '4')];
    const follower = [h('a', '1'), h('b', 'x')];
    assert.deepEqual(differingKeys(leader, follower, enc.encode('c')).map((k) => Buffer.from(k).toString()), ['b']);
    assert.deepEqual(differingKeys(leader, follower).map((k) => Buffer.from(k).toString()), ['b', 'c', 'd']);
  });
});
