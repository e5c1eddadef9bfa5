/**
 * getMany with the read thread (engine/read/): a large batch's table lookups are shared with
 * a worker thread, which must answer exactly as this thread would (puts, overwrites, deletes,
 * keys in memtables, missing keys, at a snapshot), keep reading the version the call started
 * with while compactions replace its tables, hand back errors of the right kind, and step
 * aside when it cannot start.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CorruptionError, Db, MemoryFileSystem } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { ReadThread, ReadThreadStartError } from '../../engine/read/read-thread.ts';
import { newTableReadStats } from '../../engine/sst/table-reader.ts';
import { Version } from '../../engine/version/version.ts';
import { tempDir } from '../helpers/child.ts';

/** Small sizes so a few thousand writes make tables in several levels. */
const SMALL = { memtableBytes: 32 * 1024, tableBytesTarget: 16 * 1024, levelOneBytes: 64 * 1024, blockBytes: 1024 };
/** The read thread is opt-in (options.ts). */
const WITH_THREAD = { ...SMALL, readThread: true };
const KEYS = 4000;

const key = (i: number) => `key-${String(i).padStart(6, '0')}`;
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** A database with every fourth key deleted, every third overwritten, and the newest writes still in the memtable. */
async function filled(path: string, seed: number): Promise<{ db: Db; model: Map<string, string> }> {
  const db = await Db.open(path, WITH_THREAD);
  const model = new Map<string, string>();
  const random = seededRandom(seed);
  for (let i = 0; i < KEYS; i += 100) {
    const ops = [];
    for (let j = i; j < i + 100; j++) ops.push({ type: 'put' as const, key: key(j), value: `v${j}-${'x'.repeat(Math.floor(random() * 60))}` });
    await db.batch(ops);
    for (const op of ops) model.set(op.key, op.value);
  }
  for (let j = 0; j < KEYS; j += 4) {
    await db.delete(key(j));
    model.delete(key(j));
  }
  for (let j = 1; j < KEYS; j += 3) {
    await db.put(key(j), `again-${j}`);
    model.set(key(j), `again-${j}`);
  }
  return { db, model };
}

function sample(random: () => number, count: number): string[] {
  // Present, deleted and never-written keys (past KEYS) alike.
  return Array.from({ length: count }, () => key(Math.floor(random() * KEYS * 1.1)));
}

test('getMany shares a large batch with the read thread and answers as get does', async (t) => {
  const dir = tempDir('read-thread');
  t.after(() => dir.remove());
  const { db, model } = await filled(dir.path, 11);
  try {
    assert.equal(db.stats().readThread, true);
    const levels = db.stats().levels.filter((l) => l.files > 0).length;
    assert.ok(levels >= 2, `the data spans ${levels} levels`);
    const random = seededRandom(12);
    const readsBefore = db.stats().blockReads;
    for (let round = 0; round < 5; round++) {
      const keys = sample(random, 1000);
      const values = await db.getMany(keys);
      for (let i = 0; i < keys.length; i++) assert.equal(text(values[i]), model.get(keys[i]!), `round ${round}: ${keys[i]}`);
    }
    assert.ok(db.stats().blockReads > readsBefore, 'block reads (the thread\'s among them) are counted');
    // At a snapshot: later writes are not seen, by either thread.
    const snapshot = db.snapshot();
    const before = new Map(model);
    for (let j = 2; j < KEYS; j += 5) await db.put(key(j), `later-${j}`);
    await db.compactRange();
    const keys = sample(random, 1000);
    const values = await db.getMany(keys, { snapshot });
    for (let i = 0; i < keys.length; i++) assert.equal(text(values[i]), before.get(keys[i]!), `at the snapshot: ${keys[i]}`);
    snapshot.release();
    assert.equal(db.stats().readThreadError, undefined);
  } finally {
    await db.close();
  }
});

test('a getMany in flight reads the version it started with while compactions replace its tables', async (t) => {
  const dir = tempDir('read-thread-version');
  t.after(() => dir.remove());
  const { db, model } = await filled(dir.path, 21);
  try {
    const random = seededRandom(22);
    const reads: Array<Promise<void>> = [];
    for (let round = 0; round < 20; round++) {
      const keys = sample(random, 500);
      const expected = keys.map((k) => model.get(k));
      reads.push(db.getMany(keys).then((values) => keys.forEach((k, i) => assert.equal(text(values[i]), expected[i], `round ${round}: ${k}`))));
      if (round % 5 === 0) reads.push(db.compactRange());
    }
    await Promise.all(reads);
    // The replaced tables go once nothing reads them (their unlinks run in the background).
    const live = db.stats().levels.reduce((sum, l) => sum + l.files, 0);
    const onDisk = () => readdirSync(dir.path).filter((name) => name.endsWith('.sst'));
    const deadline = Date.now() + 30_000;
    while (onDisk().length !== live && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(onDisk().length, live, `tables on disk ${onDisk().join(' ')}`);
  } finally {
    await db.close();
  }
});

test('a read thread whose module fails to load says so as a start failure, and getMany then reads here', async (t) => {
  const dir = tempDir('read-thread-start');
  t.after(() => dir.remove());
  const entry = join(dir.path, 'broken-worker.mjs');
  writeFileSync(entry, "throw new Error('this worker cannot load');\n");
  const broken = new ReadThread(dir.path, { tableCacheFilesMax: 8, blockCacheBytes: 0, entry: pathToFileURL(entry) }, newTableReadStats());
  await assert.rejects(broken.lookup(Version.empty(), [new Uint8Array([1])], 1), (err: unknown) => {
    assert.ok(err instanceof ReadThreadStartError, String(err));
    assert.match(String((err.cause as Error).message), /cannot load/);
    return true;
  });
  await broken.close();

  const { db, model } = await filled(join(dir.path, 'db'), 31);
  try {
    const tree = (db as unknown as { tree: { readThread: ReadThread | undefined } }).tree;
    await tree.readThread!.close();
    tree.readThread = new ReadThread(join(dir.path, 'db'), { tableCacheFilesMax: 8, blockCacheBytes: 0, entry: pathToFileURL(entry) }, newTableReadStats());
    const keys = sample(seededRandom(32), 1000);
    const values = await db.getMany(keys);
    for (let i = 0; i < keys.length; i++) assert.equal(text(values[i]), model.get(keys[i]!), keys[i]);
    assert.equal(db.stats().readThread, false);
    assert.match(db.stats().readThreadError ?? '', /cannot load/);
    // And on: every lookup here.
    assert.deepEqual((await db.getMany(keys)).map(text), values.map(text));
  } finally {
    await db.close();
  }
});

test('a corrupt block read on the read thread rejects getMany with a CorruptionError naming the table', async (t) => {
  const dir = tempDir('read-thread-corrupt');
  t.after(() => dir.remove());
  const { db: first, model } = await filled(dir.path, 41);
  // One last level, written in key order: the newest table holds the largest keys, which are
  // above any batch's pivot, so only the read thread reads it.
  await first.compactRange();
  await first.close();
  const tables = readdirSync(dir.path).filter((name) => name.endsWith('.sst')).sort();
  assert.ok(tables.length >= 4, `${tables.length} tables`);
  const last = join(dir.path, tables.at(-1)!);
  const bytes = readFileSync(last);
  bytes[10] = bytes[10]! ^ 0x40; // inside the first data block
  writeFileSync(last, bytes);

  const db = await Db.open(dir.path, WITH_THREAD);
  try {
    const all = [...model.keys()].sort();
    await assert.rejects(db.getMany(all), (err: unknown) => {
      assert.ok(err instanceof CorruptionError, String(err));
      assert.equal((err as CorruptionError).code, 'CORRUPTION');
      // Raised on the read thread and rebuilt here (util/threads.ts), not by a lookup here.
      assert.match(String((err as Error).stack), /rebuildThreadError/);
      assert.ok(String((err as CorruptionError).file).endsWith(tables.at(-1)!), `file ${(err as CorruptionError).file}`);
      return true;
    });
    // The failure was the lookup's, not the thread's: it stays in use for the next batch.
    const lower = all.slice(0, all.length / 2);
    const values = await db.getMany(lower);
    for (let i = 0; i < lower.length; i++) assert.equal(text(values[i]), model.get(lower[i]!), lower[i]);
    assert.equal(db.stats().readThread, true);
  } finally {
    await db.close();
  }
});

test('by default, or on a memory file system even when asked for, getMany reads on the event loop alone', async (t) => {
  const dir = tempDir('read-thread-off');
  t.after(() => dir.remove());
  const off = await Db.open(dir.path);
  assert.equal(off.stats().readThread, false);
  await off.close();
  const memory = await Db.open('/db', { fileSystem: new MemoryFileSystem(), ...WITH_THREAD });
  try {
    assert.equal(memory.stats().readThread, false);
    const keys = Array.from({ length: 500 }, (_, i) => key(i));
    await memory.batch(keys.map((k) => ({ type: 'put' as const, key: k, value: `m-${k}` })));
    await memory.compactRange();
    assert.deepEqual((await memory.getMany(keys)).map(text), keys.map((k) => `m-${k}`));
  } finally {
    await memory.close();
  }
});
