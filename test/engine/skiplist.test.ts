import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { compareInternal, ValueKind } from '../../engine/internal-key.ts';
import { NIL, SkipList } from '../../engine/memtable/skiplist.ts';

// Bytes that sit at the edges of the order, so the in-node key words are tested at their
// sign flip (0x7f/0x80), at zero padding (0x00) and at the top (0xff).
const EDGE_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

function randomKey(random: () => number): Uint8Array {
  const length = Math.floor(random() * 25);
  return Uint8Array.from({ length }, () => EDGE_BYTES[Math.floor(random() * EDGE_BYTES.length)]!);
}

interface Entry {
  userKey: Uint8Array;
  seq: number;
  kind: number;
}

function levelZero(list: SkipList): Entry[] {
  const out: Entry[] = [];
  for (let n = list.first(); n !== NIL; n = list.next(n)) out.push({ userKey: list.userKey(n), seq: list.seq(n), kind: list.kind(n) });
  return out;
}

const cmp = (a: Entry, b: Entry) => compareInternal(a.userKey, a.seq, a.kind, b.userKey, b.seq, b.kind);

test('the skiplist keeps entries in internal-key order for keys of 0 to 24 edge-case bytes', () => {
  const random = seededRandom(7);
  const list = new SkipList(random);
  const entries = Array.from({ length: 3000 }, (_, i) => ({ userKey: randomKey(random), seq: i + 1, kind: random() < 0.2 ? ValueKind.Delete : ValueKind.Put }));
  for (const e of entries) list.insert(e.userKey, e.seq, e.kind, new Uint8Array(0));
  const walked = levelZero(list);
  assert.equal(walked.length, entries.length);
  const expected = [...entries].sort(cmp);
  walked.forEach((node, i) => assert.equal(cmp(node, expected[i]!), 0, `position ${i}`));
});

test('findGreaterOrEqual and findLessThan agree with a linear search', () => {
  const random = seededRandom(11);
  const list = new SkipList(random);
  const sorted = Array.from({ length: 1500 }, (_, i) => ({ userKey: randomKey(random), seq: 2 * i + 2, kind: ValueKind.Put }));
  for (const e of sorted) list.insert(e.userKey, e.seq, e.kind, new Uint8Array(0));
  sorted.sort(cmp);
  for (let i = 0; i < 2000; i++) {
    const target = { userKey: randomKey(random), seq: Math.floor(random() * 3100), kind: ValueKind.Put };
    const ge = sorted.find((e) => cmp(e, target) >= 0);
    const found = list.findGreaterOrEqual(target.userKey, target.seq, target.kind);
    assert.equal(found === NIL ? undefined : list.seq(found), ge?.seq);
    const lt = sorted.filter((e) => cmp(e, target) < 0).pop();
    const before = list.findLessThan(target.userKey, target.seq, target.kind);
    assert.equal(before === NIL ? undefined : list.seq(before), lt?.seq);
  }
});

test('previous and last walk the list backwards, and keys keep their bytes across growth', () => {
  const random = seededRandom(13);
  const list = new SkipList(random);
  // One shared buffer for some entries (as a WAL record), separate arrays for others.
  const shared = new Uint8Array(4096).map(() => Math.floor(random() * 256));
  const entries: Entry[] = [];
  for (let i = 0; i < 5000; i++) {
    const userKey = i % 2 === 0 ? shared.subarray(i % 4000, (i % 4000) + 1 + (i % 30)) : randomKey(random);
    entries.push({ userKey, seq: i + 1, kind: ValueKind.Put });
    list.insert(userKey, i + 1, ValueKind.Put, userKey);
  }
  entries.sort(cmp);
  const backward: number[] = [];
  for (let n = list.last(); n !== NIL; n = list.previous(n)) {
    backward.push(list.seq(n));
    assert.deepEqual([...list.value(n)], [...list.userKey(n)]);
    assert.ok(list.hasUserKey(n, list.userKey(n).slice()));
  }
  assert.deepEqual(backward, entries.map((e) => e.seq).reverse());
});

test('a skiplist sized for some entries keeps them in order, and grows past the size when more come', () => {
  for (const expected of [0, 10, 2000, 50_000]) {
    const random = seededRandom(17);
    const list = new SkipList(random, expected);
    const entries = Array.from({ length: 4000 }, (_, i) => ({ userKey: randomKey(random), seq: i + 1, kind: ValueKind.Put }));
    for (const e of entries) list.insert(e.userKey, e.seq, e.kind, e.userKey);
    const walked = levelZero(list);
    assert.equal(walked.length, entries.length, `sized for ${expected}`);
    const sorted = [...entries].sort(cmp);
    walked.forEach((node, i) => assert.equal(cmp(node, sorted[i]!), 0, `sized for ${expected}, position ${i}`));
  }
});
