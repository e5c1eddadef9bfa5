import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { compareInternal, ValueKind } from '../../engine/internal-key.ts';
import { Memtable } from '../../engine/memtable/memtable.ts';
import { MergingIterator } from '../../engine/merging-iterator.ts';

interface Entry {
  userKey: Uint8Array;
  seq: number;
  kind: ValueKind;
}

const cmp = (a: Entry, b: Entry) => compareInternal(a.userKey, a.seq, a.kind, b.userKey, b.seq, b.kind);
const key = (n: number) => new TextEncoder().encode(`k${String(n).padStart(3, '0')}`);

/** `childCount` memtables sharing keys, each entry with its own sequence number. */
function setup(seed: number, childCount: number) {
  const random = seededRandom(seed);
  const children = Array.from({ length: childCount }, (_, i) => new Memtable(i + 1));
  const all: Entry[] = [];
  let seq = 0;
  for (let i = 0; i < 400; i++) {
    const e = { userKey: key(Math.floor(random() * 120)), seq: ++seq, kind: random() < 0.2 ? ValueKind.Delete : ValueKind.Put };
    children[Math.floor(random() * childCount)]!.add(e.userKey, e.seq, e.kind, new Uint8Array(0));
    all.push(e);
  }
  all.sort(cmp);
  return { random, all, merged: new MergingIterator(children.map((m) => m.iterator())) };
}

test('a merge of many children yields every entry in internal order, forward and backward', () => {
  for (const childCount of [1, 2, 5, 17]) {
    const { all, merged } = setup(childCount, childCount);
    const forward: number[] = [];
    for (merged.seekToFirst(); merged.valid(); merged.next()) forward.push(merged.seq());
    assert.deepEqual(forward, all.map((e) => e.seq), `${childCount} children forward`);
    const backward: number[] = [];
    for (merged.seekToLast(); merged.valid(); merged.prev()) backward.push(merged.seq());
    assert.deepEqual(backward, all.map((e) => e.seq).reverse(), `${childCount} children backward`);
  }
});

test('a random walk of next, prev and seeks matches a sorted array', () => {
  for (const seed of [1, 2, 3, 4]) {
    const { random, all, merged } = setup(seed * 100, 6);
    let at = -1;
    for (let step = 0; step < 2000; step++) {
      const r = random();
      if (r < 0.05 || at < 0 || at >= all.length) {
        const target = { userKey: key(Math.floor(random() * 125)), seq: Math.floor(random() * 450), kind: ValueKind.Put };
        merged.seek(target.userKey, target.seq);
        at = all.findIndex((e) => cmp(e, target) >= 0);
        if (at < 0) at = all.length;
      } else if (r < 0.55) {
        merged.next();
        at++;
      } else {
        merged.prev();
        at--;
      }
      const expected = all[at];
      assert.equal(merged.valid(), expected !== undefined, `seed ${seed} step ${step}`);
      if (expected) assert.equal(merged.seq(), expected.seq, `seed ${seed} step ${step}`);
    }
  }
});
