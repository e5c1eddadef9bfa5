/**
 * DistribkvLevel.clear(): one range tombstone (Db.deleteRange) when its options allow, key by
 * key otherwise; the same keys go either way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryFileSystem } from '../../engine/index.ts';
import { DistribkvLevel } from '../../engine/level.ts';

const key = (i: number) => `k${String(i).padStart(3, '0')}`;

async function filled(): Promise<DistribkvLevel> {
  const db = new DistribkvLevel('/level', { fileSystem: new MemoryFileSystem() });
  await db.open();
  await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: key(i), value: `v${i}` })));
  return db;
}

async function keys(db: DistribkvLevel): Promise<string[]> {
  return db.keys().all();
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => key(from + i));

test('clear with bounds and no limit is one write: a range tombstone', async () => {
  const cases: Array<[Record<string, string>, string[]]> = [
    [{ gte: key(10), lt: key(20) }, [...range(0, 10), ...range(20, 100)]],
    [{ gt: key(10), lte: key(20) }, [...range(0, 11), ...range(21, 100)]],
    [{ gte: key(90) }, range(0, 90)],
    [{ lt: key(5) }, range(5, 100)],
    [{}, []],
  ];
  for (const [options, left] of cases) {
    const db = await filled();
    const before = db.engineDb.lastSequence;
    await db.clear(options);
    assert.equal(db.engineDb.lastSequence, before + 1, `${JSON.stringify(options)}: one write`);
    assert.deepEqual(await keys(db), left, JSON.stringify(options));
    await db.close();
  }
});

test('clear of an empty range writes nothing; with a limit or a snapshot it deletes key by key what the snapshot sees', async () => {
  const db = await filled();
  const start = db.engineDb.lastSequence;
  await db.clear({ gte: 'zzz' });
  await db.clear({ gt: key(99) });
  assert.equal(db.engineDb.lastSequence, start, 'nothing to delete, nothing written');
  await db.clear({ gte: key(0), limit: 5 });
  assert.deepEqual(await keys(db), range(5, 100));
  assert.equal(db.engineDb.lastSequence, start + 5, 'five deletes');
  const snapshot = db.snapshot();
  await db.put(key(200), 'after the snapshot');
  await db.clear({ gte: key(50), snapshot });
  await snapshot.close();
  assert.deepEqual(await keys(db), [...range(5, 50), key(200)], 'a key written after the snapshot survives');
  await db.close();
});

test('clear of a sublevel deletes only the sublevel, in one write', async () => {
  const db = await filled();
  const sub = db.sublevel('s');
  await sub.batch(Array.from({ length: 20 }, (_, i) => ({ type: 'put' as const, key: key(i), value: 'x' })));
  const before = db.engineDb.lastSequence;
  await sub.clear();
  assert.equal(db.engineDb.lastSequence, before + 1);
  assert.deepEqual(await sub.keys().all(), []);
  assert.equal((await keys(db)).length, 100);
  await db.close();
});
