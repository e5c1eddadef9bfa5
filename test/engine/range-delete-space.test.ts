/**
 * The space of a deleted range comes back: tables wholly inside a range tombstone are dropped
 * by a version edit without being read, the rest is rewritten without the covered keys, on
 * the real file system with compactions on their worker thread.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { tempDir } from '../helpers/child.ts';

const KEYS = 100_000;
const key = (i: number) => `key-${String(i).padStart(12, '0')}`; // 16 bytes
const value = (i: number) => `value-${i}-`.padEnd(100, 'v'); // 100 bytes

function directoryBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}

async function fill(db: Db, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    await db.batch(Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({ type: 'put' as const, key: key(i + j), value: value(i + j) })));
  }
}

async function countKeys(db: Db): Promise<number> {
  let n = 0;
  const it = db.iterator();
  for (let batch = await it.nextBatch(5000); batch.length > 0; batch = await it.nextBatch(5000)) n += batch.length;
  return n;
}

test(`deleting half of ${KEYS.toLocaleString('en-US')} keys and compacting frees about half the bytes on disk`, async (t) => {
  const dir = tempDir('range-space');
  t.after(() => dir.remove());
  const db = await Db.open(dir.path);
  await fill(db, KEYS);
  await db.compactRange();
  const before = directoryBytes(dir.path);
  const dropsBefore = db.stats().tablesDroppedByRangeDeletes;
  await db.deleteRange({ gte: key(0), lt: key(KEYS / 2) });
  await db.compactRange();
  const after = directoryBytes(dir.path);
  const stats = db.stats();
  t.diagnostic(`bytes on disk: ${before.toLocaleString('en-US')} with ${KEYS.toLocaleString('en-US')} keys, ${after.toLocaleString('en-US')} after deleteRange over half and compactRange (${((100 * after) / before).toFixed(1)}%); ${stats.tablesDroppedByRangeDeletes - dropsBefore} tables dropped unread, ${stats.threadCompactions} compactions on the compaction thread`);
  assert.ok(after < before * 0.6, `${after} bytes after is not about half of ${before}`);
  assert.ok(after > before * 0.4, `${after} bytes after is less than the half that remains`);
  assert.ok(stats.tablesDroppedByRangeDeletes - dropsBefore > 0, 'tables inside the range were dropped without a rewrite');
  assert.equal(stats.compactionThread, true, `the compaction thread ran the compactions (${stats.compactionThreadError ?? ''})`);
  assert.equal(await countKeys(db), KEYS / 2);
  assert.equal(await db.get(key(KEYS / 2 - 1)), undefined);
  assert.equal(new TextDecoder().decode(await db.get(key(KEYS / 2))), value(KEYS / 2));
  assert.ok((await db.verify()).ok);
  await db.close();
});

test('tables a range tombstone covers are dropped by the background work without being read, but not while a snapshot needs them', async () => {
  const db = await Db.open('/db', { fileSystem: new MemoryFileSystem(), memtableBytes: 64 * 1024, tableBytesTarget: 16 * 1024, levelOneBytes: 64 * 1024 * 1024 });
  await fill(db, 10_000);
  await db.compactRange();
  const tables = db.stats().levels.reduce((n, l) => n + l.files, 0);
  assert.ok(tables >= 20, `${tables} tables`);
  const read = db.stats().compactionBytesRead;
  const snapshot = db.snapshot();
  await db.deleteRange({ gte: key(1000), lt: key(9000) });
  const flushFiller = async (tag: string) => {
    const flushes = db.stats().flushes;
    // Stop at the memtable switch, not at the flush: on a busy machine the flush can lag
    // behind the puts, and a second memtable's flush could fill L0 to its compaction trigger,
    // whose reads the assertion below would wrongly count against the drop.
    const switched = () => db.stats().flushes !== flushes || db.stats().immutableMemtables > 0;
    for (let i = 0; !switched() && i < 5000; i++) await db.put(`z-${tag}-${i}`, 'f'.repeat(100));
    await waitFor(() => db.stats().flushes > flushes && db.stats().immutableMemtables === 0, 'a flush');
  };
  await flushFiller('a');
  assert.equal(db.stats().tablesDroppedByRangeDeletes, 0, 'the snapshot still reads the covered tables');
  assert.equal(new TextDecoder().decode(await db.get(key(5000), { snapshot })), value(5000));
  snapshot.release();
  await flushFiller('b');
  await waitFor(() => db.stats().tablesDroppedByRangeDeletes > 0, 'covered tables dropped');
  const stats = db.stats();
  assert.ok(stats.tablesDroppedByRangeDeletes >= tables / 2, `${stats.tablesDroppedByRangeDeletes} of ${tables} tables dropped`);
  assert.equal(stats.compactionBytesRead, read, 'dropping read no table');
  assert.equal(await db.get(key(5000)), undefined);
  assert.equal(new TextDecoder().decode(await db.get(key(999))), value(999));
  assert.equal(new TextDecoder().decode(await db.get(key(9000))), value(9000));
  assert.ok((await db.verify()).ok);
  await db.close();
});

/** Polls `condition` every 10 ms for up to 30 s (a bound for a busy machine, not a timing claim). */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`no ${what} within 30 s`);
}
