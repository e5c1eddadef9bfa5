import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const pairs = (entries: Array<[Uint8Array, Uint8Array]>) => entries.map(([k, v]) => `${text(k)}=${text(v)}`);

async function openWith(keys: string[], options: Record<string, unknown> = {}): Promise<Db> {
  const db = await Db.open('/db', { fileSystem: new MemoryFileSystem(), ...options });
  await db.batch(keys.map((k) => ({ type: 'put' as const, key: k, value: k.toUpperCase() })));
  return db;
}

test('nextBatch returns up to max entries per call and an empty array at the end', async () => {
  const db = await openWith(['a', 'b', 'c', 'd', 'e']);
  const it = db.iterator();
  assert.deepEqual(pairs(await it.nextBatch(2)), ['a=A', 'b=B']);
  assert.deepEqual(pairs(await it.nextBatch(10)), ['c=C', 'd=D', 'e=E']);
  assert.deepEqual(await it.nextBatch(10), []);
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  await db.close();
});

test('nextBatch and next mix, and both honour bounds, reverse and limit', async () => {
  const db = await openWith(['a', 'b', 'c', 'd', 'e', 'f']);
  const it = db.iterator({ gt: 'a', lte: 'e', reverse: true, limit: 3 });
  assert.equal(text((await it.next()).value![0]), 'e');
  assert.deepEqual(pairs(await it.nextBatch(5)), ['d=D', 'c=C']);
  assert.deepEqual(await it.nextBatch(5), []);
  await db.close();
});

test('nextBatch rejects a max that is not a positive integer', async () => {
  const db = await openWith(['a']);
  await assert.rejects(db.iterator().nextBatch(0), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(db.iterator().nextBatch(1.5), { code: 'INVALID_ARGUMENT' });
  await db.close();
});

test('seek moves forward or back to the first key at or after the target', async () => {
  const db = await openWith(['a', 'c', 'e', 'g']);
  const it = db.iterator();
  it.seek('d');
  assert.deepEqual(pairs(await it.nextBatch(2)), ['e=E', 'g=G']);
  it.seek('a');
  assert.deepEqual(pairs(await it.nextBatch(1)), ['a=A']);
  it.seek('z');
  assert.deepEqual(await it.nextBatch(1), []);
  await db.close();
});

test('seek in reverse lands on the last key at or before the target', async () => {
  const db = await openWith(['a', 'c', 'e', 'g']);
  const it = db.iterator({ reverse: true });
  it.seek('f');
  assert.deepEqual(pairs(await it.nextBatch(2)), ['e=E', 'c=C']);
  it.seek('c');
  assert.deepEqual(pairs(await it.nextBatch(5)), ['c=C', 'a=A']);
  await db.close();
});

test('seek stays inside the range bounds', async () => {
  const db = await openWith(['a', 'b', 'c', 'd', 'e']);
  const forward = db.iterator({ gt: 'b', lt: 'e' });
  forward.seek('a');
  assert.deepEqual(pairs(await forward.nextBatch(5)), ['c=C', 'd=D']);
  const reverse = db.iterator({ gt: 'b', lt: 'e', reverse: true });
  reverse.seek('z');
  assert.deepEqual(pairs(await reverse.nextBatch(5)), ['d=D', 'c=C']);
  await db.close();
});

test('seek reads at the iterator snapshot, not at the latest write', async () => {
  const db = await openWith(['a', 'c']);
  const it = db.iterator();
  assert.equal(text((await it.next()).value![0]), 'a');
  await db.put('b', 'B');
  await db.delete('c');
  it.seek('a');
  assert.deepEqual(pairs(await it.nextBatch(5)), ['a=A', 'c=C']);
  await db.close();
});

test('an iterator releases its version at the end, on return and on close of the database', async () => {
  const db = await openWith(['a', 'b']);
  const early = db.iterator();
  await early.next();
  await early.return();
  assert.deepEqual(await early.next(), { value: undefined, done: true });
  const open = db.iterator();
  await open.next();
  await db.close();
  await assert.rejects(open.nextBatch(1), { code: 'DB_CLOSED' });
  assert.deepEqual(await open.next(), { value: undefined, done: true });
});
