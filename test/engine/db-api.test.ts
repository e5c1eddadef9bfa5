import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function openMemory(options: Record<string, unknown> = {}) {
  const fileSystem = new MemoryFileSystem();
  return Db.open('/db', { fileSystem, ...options });
}

async function collect(it: AsyncIterable<[Uint8Array, Uint8Array]>): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of it) out.push(`${text(k)}=${text(v)}`);
  return out;
}

test('put then get returns the value, and a missing key is undefined', async () => {
  const db = await openMemory();
  await db.put('a', 'one');
  assert.equal(text(await db.get('a')), 'one');
  assert.equal(await db.get('b'), undefined);
  await db.close();
});

test('a later put overwrites and a delete shadows an older put', async () => {
  const db = await openMemory();
  await db.put('k', 'v1');
  await db.put('k', 'v2');
  assert.equal(text(await db.get('k')), 'v2');
  await db.delete('k');
  assert.equal(await db.get('k'), undefined);
  await db.put('k', 'v3');
  assert.equal(text(await db.get('k')), 'v3');
  await db.close();
});

test('put, delete and batch resolve to increasing sequence numbers', async () => {
  const db = await openMemory();
  const s1 = await db.put('a', '1');
  const s2 = await db.delete('a');
  const s3 = await db.batch([
    { type: 'put', key: 'b', value: '2' },
    { type: 'put', key: 'c', value: '3' },
  ]);
  assert.deepEqual([s1, s2, s3], [1, 2, 4]);
  assert.equal(db.lastSequence, 4);
  await db.close();
});

test('a batch applies atomically and a later op on the same key wins', async () => {
  const db = await openMemory();
  await db.put('x', 'old');
  await db.batch([
    { type: 'put', key: 'x', value: 'mid' },
    { type: 'del', key: 'y' },
    { type: 'put', key: 'x', value: 'new' },
    { type: 'put', key: 'z', value: 'zz' },
    { type: 'del', key: 'z' },
  ]);
  assert.equal(text(await db.get('x')), 'new');
  assert.equal(await db.get('z'), undefined);
  await db.close();
});

test('the iterator yields keys in bytewise order within bounds, forward and reverse, with limits', async () => {
  const db = await openMemory();
  for (const k of ['d', 'a', 'c', 'b', 'e', 'aa']) await db.put(k, k.toUpperCase());
  await db.delete('c');
  assert.deepEqual(await collect(db.iterator()), ['a=A', 'aa=AA', 'b=B', 'd=D', 'e=E']);
  assert.deepEqual(await collect(db.iterator({ gt: 'a', lte: 'd' })), ['aa=AA', 'b=B', 'd=D']);
  assert.deepEqual(await collect(db.iterator({ gte: 'aa', lt: 'e', reverse: true })), ['d=D', 'b=B', 'aa=AA']);
  assert.deepEqual(await collect(db.iterator({ reverse: true, limit: 2 })), ['e=E', 'd=D']);
  assert.deepEqual(await collect(db.iterator({ gt: 'b', lt: 'd' })), []);
  assert.deepEqual(await collect(db.iterator({ limit: 0 })), []);
  assert.deepEqual(await collect(db.iterator({ lte: 'c', reverse: true })), ['b=B', 'aa=AA', 'a=A']);
  await db.close();
});

test('keys compare bytewise, not as UTF-16 strings', async () => {
  const db = await openMemory();
  await db.put(new Uint8Array([0xff]), 'high');
  await db.put(new Uint8Array([0x00]), 'low');
  await db.put('\u00e9', 'e-acute'); // UTF-8 c3 a9
  const keys: number[][] = [];
  for await (const [k] of db.iterator()) keys.push([...k]);
  assert.deepEqual(keys, [[0x00], [0xc3, 0xa9], [0xff]]);
  await db.close();
});

test('a snapshot is unaffected by later writes and deletes, in get and in iteration', async () => {
  const db = await openMemory();
  await db.put('a', '1');
  await db.put('b', '2');
  const snap = db.snapshot();
  await db.put('a', '1b');
  await db.delete('b');
  await db.put('c', '3');
  assert.equal(text(await db.get('a', { snapshot: snap })), '1');
  assert.equal(text(await db.get('b', { snapshot: snap })), '2');
  assert.equal(await db.get('c', { snapshot: snap }), undefined);
  assert.deepEqual(await collect(db.iterator({ snapshot: snap })), ['a=1', 'b=2']);
  assert.deepEqual(await collect(db.iterator({ snapshot: snap, reverse: true })), ['b=2', 'a=1']);
  assert.deepEqual(await collect(db.iterator()), ['a=1b', 'c=3']);
  snap.release();
  await assert.rejects(db.get('a', { snapshot: snap }), { code: 'INVALID_ARGUMENT' });
  await db.close();
});

test('an iterator started before a write does not see it', async () => {
  const db = await openMemory();
  await db.put('a', '1');
  await db.put('c', '3');
  const it = db.iterator();
  const first = await it.next();
  await db.put('b', '2');
  const rest = await collect(it);
  assert.equal(text((first.value as [Uint8Array, Uint8Array])[0]), 'a');
  assert.deepEqual(rest, ['c=3']);
  await db.close();
});

test('returned values are copies: mutating them does not change the database', async () => {
  const db = await openMemory();
  const value = new Uint8Array([1, 2, 3]);
  await db.put('k', value);
  value[0] = 9;
  const got = (await db.get('k'))!;
  assert.deepEqual([...got], [1, 2, 3]);
  got[1] = 9;
  assert.deepEqual([...(await db.get('k'))!], [1, 2, 3]);
  await db.close();
});

test('concurrent writers are grouped into fewer WAL records than writes', async () => {
  const db = await openMemory();
  const seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => db.put(`k${i}`, `v${i}`, { sync: true })));
  assert.deepEqual([...new Set(seqs)].length, 200);
  const stats = db.stats();
  assert.equal(stats.writesGrouped, 200);
  assert.ok(stats.writeGroups < 200, `expected grouping, got ${stats.writeGroups} groups`);
  for (let i = 0; i < 200; i += 37) assert.equal(text(await db.get(`k${i}`)), `v${i}`);
  await db.close();
});

test('applyBatch keeps the leader sequence numbers, skips what it already has, and refuses a gap', async () => {
  const leader = await openMemory();
  const shipped: Uint8Array[] = [];
  leader.onCommit((_first, _last, batch) => shipped.push(batch));
  await leader.put('a', '1');
  await leader.batch([
    { type: 'put', key: 'b', value: '2' },
    { type: 'del', key: 'a' },
  ]);
  await leader.put('c', '3');
  const follower = await openMemory();
  assert.equal(await follower.applyBatch(shipped[0]!), 1);
  assert.equal(await follower.applyBatch(shipped[0]!), 1); // twice is harmless
  await assert.rejects(follower.applyBatch(shipped[2]!), /gap/);
  assert.equal(await follower.applyBatch(shipped[1]!), 3);
  assert.equal(await follower.applyBatch(shipped[1]!), 3);
  assert.equal(await follower.applyBatch(shipped[2]!), 4);
  assert.equal(follower.lastSequence, leader.lastSequence);
  assert.equal(await follower.get('a'), undefined);
  assert.equal(text(await follower.get('b')), '2');
  assert.equal(text(await follower.get('c')), '3');
  await assert.rejects(follower.applyBatch(new Uint8Array([1, 2, 3])), { code: 'INVALID_ARGUMENT' });
  await leader.close();
  await follower.close();
});

test('advanceSequence moves the sequence forward durably, and never backward', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem });
  await db.put('k', 'v');
  assert.equal(await db.advanceSequence(100, { sync: true }), 100);
  assert.equal(await db.advanceSequence(50), 100);
  assert.equal(await db.put('k2', 'v2', { sync: true }), 101);
  await db.close();
  const reopened = await Db.open('/db', { fileSystem: fileSystem.crash(3, { tornWrites: false }) });
  assert.equal(reopened.lastSequence, 101);
  await reopened.close();
});

test('getMany returns values in key order, undefined for absent and deleted keys, at one snapshot', async () => {
  const db = await openMemory({ memtableBytes: 4096 });
  for (let i = 0; i < 300; i++) await db.put(`k${i}`, `v${i}`);
  await db.delete('k7');
  const snapshot = db.snapshot();
  await db.put('k1', 'changed');
  await db.delete('k2');
  const keys = ['k1', 'k2', 'k7', 'missing', 'k299', 'k1'];
  assert.deepEqual((await db.getMany(keys)).map(text), ['changed', undefined, undefined, undefined, 'v299', 'changed']);
  assert.deepEqual((await db.getMany(keys, { snapshot })).map(text), ['v1', 'v2', undefined, undefined, 'v299', 'v1']);
  // Each value is its own copy, even for a key asked for twice.
  const [a, , , , , b] = await db.getMany(keys);
  a![0] = 0;
  assert.equal(text(b), 'changed');
  assert.deepEqual(await db.getMany([]), []);
  snapshot.release();
  await db.close();
});
