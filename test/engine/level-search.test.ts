import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { compareBytes } from '../../engine/util/bytes.ts';
import { LevelSearch } from '../../engine/version/level-search.ts';

/** The first index whose key is >= target, by a byte-wise binary search (what LevelSearch replaces). */
function naiveFind(largest: Uint8Array[], target: Uint8Array): number {
  let lo = 0;
  let hi = largest.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(largest[mid]!, target) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortedDistinct(keys: Uint8Array[]): Uint8Array[] {
  const sorted = [...keys].sort(compareBytes);
  return sorted.filter((k, i) => i === 0 || compareBytes(sorted[i - 1]!, k) !== 0);
}

const bytes = (s: string) => new TextEncoder().encode(s);

test('LevelSearch.findFile agrees with a byte-wise binary search: shared prefixes, ties in the word, keys shorter than the prefix, zero bytes', () => {
  const random = seededRandom(91);
  for (let round = 0; round < 300; round++) {
    // Few distinct bytes and a common stem make long shared prefixes and equal words likely.
    const stem = Array.from({ length: Math.floor(random() * 12) }, () => Math.floor(random() * 3));
    const make = () => Uint8Array.from([...stem.slice(0, Math.floor(random() * (stem.length + 1))), ...Array.from({ length: Math.floor(random() * 7) }, () => Math.floor(random() * 3))]);
    const largest = sortedDistinct(Array.from({ length: 1 + Math.floor(random() * 40) }, make));
    const search = LevelSearch.of(largest);
    for (let t = 0; t < 60; t++) {
      const target = t % 10 === 0 ? largest[Math.floor(random() * largest.length)]! : make();
      assert.equal(search.findFile(target), naiveFind(largest, target), `round ${round}, target [${target}] in ${largest.map((k) => `[${k}]`).join(' ')}`);
    }
  }
});

test('LevelSearch.findFile on padded decimal keys, the benchmark shape, and on an empty or one-file level', () => {
  const largest = Array.from({ length: 50 }, (_, i) => bytes(String(20_000 * (i + 1) - 1).padStart(16, '0')));
  const search = LevelSearch.of(largest);
  for (let k = 0; k < 1_100_000; k += 997) {
    const key = bytes(String(k).padStart(16, '0'));
    assert.equal(search.findFile(key), naiveFind(largest, key), `key ${k}`);
  }
  for (const key of [bytes(''), bytes('0'), bytes('00000000000'), bytes('1'), bytes('0000000000019999\x00'), bytes('0000000000019999')]) {
    assert.equal(search.findFile(key), naiveFind(largest, key), `key ${JSON.stringify(new TextDecoder().decode(key))}`);
  }
  assert.equal(LevelSearch.of([]).findFile(bytes('a')), 0);
  const one = LevelSearch.of([bytes('m')]);
  assert.deepEqual([one.findFile(bytes('a')), one.findFile(bytes('m')), one.findFile(bytes('m\x00')), one.findFile(bytes('z'))], [0, 0, 1, 1]);
});
