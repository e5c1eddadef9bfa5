/**
 * Db.deleteRange: range tombstones as reads see them (get, getMany, iterators both ways, seeks,
 * bounds, snapshots) in every place they can sit (memtable, L0, deeper levels), in batches and
 * replicated batches, through recovery, and with the arguments it refuses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem, type Snapshot } from '../../engine/index.ts';
import { TableReader } from '../../engine/sst/table-reader.ts';
import { walFileName } from '../../engine/version/file-meta.ts';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const TINY = { memtableBytes: 2048, tableBytesTarget: 4096, levelOneBytes: 8192, levelSizeMultiplier: 4, blockBytes: 512, l0CompactionTrigger: 2 };
const key = (i: number) => `k${String(i).padStart(3, '0')}`;

async function scan(db: Db, options: Record<string, unknown> = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of db.iterator(options)) out.push(text(k)!);
  return out;
}

/** Keys 0..199 present, then [50, 120) deleted; 100 put again after the deletion. */
async function filled(fileSystem = new MemoryFileSystem()): Promise<Db> {
  const db = await Db.open('/db', { fileSystem, ...TINY });
  for (let i = 0; i < 200; i++) await db.put(key(i), `v${i}`);
  return db;
}

const expectedKeys = (deleted: (i: number) => boolean) => Array.from({ length: 200 }, (_, i) => i).filter((i) => !deleted(i)).map(key);

/** Checks every way of reading against "keys 0..199 but [50, 120), with 100 back". */
async function checkReads(db: Db, where: string): Promise<void> {
  const live = expectedKeys((i) => i >= 50 && i < 120 && i !== 100);
  assert.equal(text(await db.get(key(49))), 'v49', `${where}: the key before the range`);
  assert.equal(await db.get(key(50)), undefined, `${where}: gte is deleted`);
  assert.equal(await db.get(key(119)), undefined, `${where}: the last key in the range`);
  assert.equal(text(await db.get(key(120))), 'v120', `${where}: lt is not deleted`);
  assert.equal(text(await db.get(key(100))), 'again', `${where}: a put after the range delete`);
  assert.deepEqual((await db.getMany([key(49), key(60), key(100), key(120)])).map(text), ['v49', undefined, 'again', 'v120'], where);
  assert.deepEqual(await scan(db), live, `${where}: forward scan`);
  assert.deepEqual(await scan(db, { reverse: true }), [...live].reverse(), `${where}: reverse scan`);
  assert.deepEqual(await scan(db, { gte: key(45), lt: key(125) }), live.filter((k) => k >= key(45) && k < key(125)), `${where}: bounded scan`);
  assert.deepEqual(await scan(db, { gt: key(49), lte: key(120), reverse: true }), [key(120), key(100)], `${where}: bounded reverse scan`);
  assert.deepEqual(await scan(db, { gte: key(60), lt: key(90) }), [], `${where}: a scan inside the range`);
  const it = db.iterator({ limit: 3 });
  it.seek(key(55));
  assert.deepEqual((await it.nextBatch(10)).map(([k]) => text(k)), [key(100), key(120), key(121)], `${where}: a seek into the range`);
  const back = db.iterator({ reverse: true });
  back.seek(key(110));
  assert.deepEqual((await back.nextBatch(2)).map(([k]) => text(k)), [key(100), key(49)], `${where}: a reverse seek into the range`);
  await back.return();
}

test('a deleted range is gone for get, getMany, scans both ways, bounds and seeks, in the memtable, in L0 and after compaction', async () => {
  const db = await filled();
  await db.deleteRange({ gte: key(50), lt: key(120) });
  await db.put(key(100), 'again');
  await checkReads(db, 'with the tombstone in the memtable');
  for (let i = 0; i < 40; i++) await db.put(`z${i}`, 'x'.repeat(100)); // a flush or two: L0
  await db.compactRange();
  assert.ok(db.stats().levels.slice(1).some((l) => l.files > 0), 'tables below L0');
  for (let i = 0; i < 40; i++) await db.delete(`z${i}`);
  await db.compactRange();
  await checkReads(db, 'after compactRange');
  assert.ok((await db.verify()).ok);
  await db.close();
});

test('a tombstone in a newer table hides keys of older tables below it, and a newer put shows through', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await filled(fileSystem);
  await db.compactRange(); // keys in L1+
  await db.deleteRange({ gte: key(50), lt: key(120) });
  await db.put(key(100), 'again');
  for (let i = 0; i < 30; i++) await db.put(`z${i}`, 'y'.repeat(100)); // the tombstone flushed to L0
  for (let i = 0; i < 30; i++) await db.delete(`z${i}`);
  await checkReads(db, 'tombstone above the keys');
  await db.close();
  const reopened = await Db.open('/db', { fileSystem, ...TINY });
  await checkReads(reopened, 'after reopening');
  await reopened.close();
});

test('a snapshot taken before a range delete still sees the keys, through flushes and compactions', async () => {
  const db = await filled();
  const before: Snapshot = db.snapshot();
  await db.deleteRange({ gte: key(10), lt: key(20) });
  const after = db.snapshot();
  const check = async (where: string) => {
    assert.equal(text(await db.get(key(15), { snapshot: before })), 'v15', where);
    assert.equal(await db.get(key(15), { snapshot: after }), undefined, where);
    assert.equal((await scan(db, { snapshot: before, gte: key(5), lt: key(25) })).length, 20, where);
    assert.deepEqual(await scan(db, { snapshot: after, gte: key(5), lt: key(25) }), [5, 6, 7, 8, 9, 20, 21, 22, 23, 24].map(key), where);
    assert.equal((await scan(db, { snapshot: before, gte: key(5), lt: key(25), reverse: true })).length, 20, where);
  };
  await check('in the memtable');
  await db.compactRange();
  await check('after compactRange');
  before.release();
  await db.compactRange();
  assert.equal(await db.get(key(15), { snapshot: after }), undefined);
  after.release();
  await db.close();
});

test('delRange in a batch is atomic with the batch and a later op in it wins', async () => {
  const db = await filled();
  const seq = await db.batch([
    { type: 'put', key: key(30), value: 'before' },
    { type: 'delRange', gte: key(20), lt: key(40) },
    { type: 'put', key: key(35), value: 'after' },
  ]);
  assert.equal(seq, 203);
  assert.equal(await db.get(key(30)), undefined, 'the put before the range delete is deleted');
  assert.equal(text(await db.get(key(35))), 'after', 'the put after it survives');
  assert.deepEqual(await scan(db, { gte: key(18), lt: key(42) }), [key(18), key(19), key(35), key(40), key(41)]);
  await db.close();
});

test('replicated batches carry range deletes: a follower applying the leader\'s batches reads the same', async () => {
  const leader = await filled();
  const follower = await Db.open('/db', { fileSystem: new MemoryFileSystem(), ...TINY });
  const shipped: Uint8Array[] = [];
  leader.onCommit((_first, _last, batch) => shipped.push(batch.slice()));
  await leader.batch([{ type: 'delRange', gte: key(0), lt: key(10) }, { type: 'put', key: key(5), value: 'five' }]);
  await leader.deleteRange({ gte: key(150), lt: 'k2' });
  await leader.put(key(160), 'back');
  // The follower first gets what the leader had before (here: the same puts), then the log.
  for (let i = 0; i < 200; i++) await follower.put(key(i), `v${i}`);
  for (const batch of shipped) await follower.applyBatch(batch);
  for (const batch of shipped) await follower.applyBatch(batch); // twice: harmless
  assert.equal(follower.lastSequence, leader.lastSequence);
  assert.deepEqual(await scan(follower), await scan(leader));
  assert.deepEqual(await scan(follower, { gte: key(0), lt: key(12) }), [key(5), key(10), key(11)]);
  assert.equal(text(await follower.get(key(160))), 'back');
  await follower.compactRange();
  assert.deepEqual(await scan(follower), await scan(leader));
  await leader.close();
  await follower.close();
});

test('range deletes in the WAL are replayed after a crash, and a WAL of put and delete records only still reads', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await filled(fileSystem);
  await db.deleteRange({ gte: key(50), lt: key(120) }, { sync: true });
  await db.put(key(100), 'again', { sync: true });
  const crashed = fileSystem.crash(3, { data: 'drop', entries: 'durable' });
  await db.close();
  const reopened = await Db.open('/db', { fileSystem: crashed, ...TINY });
  await checkReads(reopened, 'after a crash');
  await reopened.close();

  // docs/formats/wal.md's example record (put k1=hi @7, delete k0 @8), written before range
  // deletions existed, in the WAL a fresh database replays.
  const oldFs = new MemoryFileSystem();
  const fresh = await Db.open('/db', { fileSystem: oldFs });
  await fresh.close();
  const wal = oldFs.list('/db').find((n) => n.endsWith('.wal'))!;
  assert.equal(wal, walFileName(Number(wal.slice(0, 6))));
  oldFs.poke(`/db/${wal}`, Uint8Array.from(Buffer.from('7017905f170001070000000000000002000000010' + '26b3102686900026b30', 'hex')));
  const old = await Db.open('/db', { fileSystem: oldFs });
  assert.equal(text(await old.get('k1')), 'hi');
  assert.equal(old.lastSequence, 8);
  await old.close();
});

test('bad ranges are INVALID_ARGUMENT with a one-line message naming what was wrong', async () => {
  const db = await Db.open('/db', { fileSystem: new MemoryFileSystem(), keyBytesMax: 16 });
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /^deleteRange: the range must be an object \{ gte, lt \}, got undefined$/],
    ['a', /^deleteRange: the range must be an object \{ gte, lt \}, got string$/],
    [{ gte: 'a' }, /^deleteRange: the range has no "lt"/],
    [{ lt: 'a' }, /^deleteRange: the range has no "gte"/],
    [{ gte: 'a', lt: 'b', gt: 'x' }, /^deleteRange: unknown range option "gt"/],
    [{ gte: 'b', lt: 'a' }, /^deleteRange: the range is empty: gte "b" is not below lt "a"$/],
    [{ gte: 'a', lt: 'a' }, /^deleteRange: the range is empty: gte "a" is not below lt "a"$/],
    [{ gte: 1, lt: 'b' }, /^deleteRange: gte: gte must be a Uint8Array or a string, got number$/],
    [{ gte: 'a', lt: 'x'.repeat(17) }, /^deleteRange: lt: key is 17 bytes, more than keyBytesMax \(16\)$/],
  ];
  for (const [range, message] of cases) {
    await assert.rejects(db.deleteRange(range as never), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INVALID_ARGUMENT', String(range));
      assert.match(err.message, message);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  }
  await assert.rejects(db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'delRange', gte: 'z', lt: 'a' } as never]), /^InvalidArgumentError: batch operation 1: the range is empty/);
  await assert.rejects(db.deleteRange({ gte: 'a', lt: 'b' }, { sync: 'yes' } as never), /option "sync" must be a boolean/);
  assert.equal(db.lastSequence, 0, 'nothing was written');
  await db.close();
  await assert.rejects(db.deleteRange({ gte: 'a', lt: 'b' }), (err: Error & { code?: string }) => err.code === 'DB_CLOSED');
});

test('a memtable holding only a range delete flushes to a table of tombstones alone, which reads, verifies and compacts', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await filled(fileSystem);
  await db.compactRange();
  const snapshot = db.snapshot(); // keeps the tombstone from being dropped at the bottom
  await db.deleteRange({ gte: key(50), lt: key(120) });
  await db.put(key(100), 'again');
  await db.compactRange();
  await checkReads(db, 'after compacting a tombstone-only flush');
  assert.equal(text(await db.get(key(60), { snapshot })), 'v60');
  assert.ok((await db.verify()).ok);
  snapshot.release();
  await db.close();
  const reopened = await Db.open('/db', { fileSystem, ...TINY });
  await checkReads(reopened, 'reopened');
  await reopened.close();

  const onlyFs = new MemoryFileSystem();
  const only = await Db.open('/only', { fileSystem: onlyFs, ...TINY });
  const empty = only.snapshot(); // at seq 0: keeps the tombstone through the compaction
  await only.deleteRange({ gte: 'a', lt: 'b' });
  await only.compactRange(); // flushes a table with no entries, then compacts it into L1
  const [table] = onlyFs.list('/only').filter((n) => n.endsWith('.sst'));
  const reader = TableReader.open(onlyFs.openReadable(`/only/${table}`), 0);
  assert.deepEqual([reader.properties.entries, reader.rangeTombstones.length], [0, 1], 'a table of one tombstone and no entries');
  assert.deepEqual(await scan(only), []);
  assert.ok((await only.verify()).ok);
  empty.release();
  await only.compactRange(); // now every read point sees it, at the bottom: dropped
  assert.deepEqual(onlyFs.list('/only').filter((n) => n.endsWith('.sst')), []);
  await only.close();
});
