import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Db, MemoryFileSystem, type DbError, type Snapshot } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { pathToFileURL } from 'node:url';
import { CompactionThread, CompactionThreadStartError } from '../../engine/compaction/compaction-thread.ts';
import { NodeFileSystem } from '../../engine/fs/node-file-system.ts';
import { Version } from '../../engine/version/version.ts';
import { tempDir } from '../helpers/child.ts';

/** Small sizes so a few thousand writes make many flushes and compactions. */
const SMALL = { memtableBytes: 32 * 1024, tableBytesTarget: 16 * 1024, levelOneBytes: 64 * 1024, blockBytes: 1024 };

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function waitUntil(done: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('compactions on the worker thread keep every write and range delete, against a model and a snapshot, across a reopen', async (t) => {
  const dir = tempDir('compaction-thread');
  t.after(() => dir.remove());
  const seed = Date.now() % 100_000;
  t.diagnostic(`seed ${seed}`);
  const random = seededRandom(seed);
  const model = new Map<string, string>();
  let db = await Db.open(dir.path, SMALL);
  let snapshot: { snap: Snapshot; model: Map<string, string> } | undefined;
  let ranges = 0;
  for (let i = 0; i < 12_000; i++) {
    // A snapshot held across the second half keeps range tombstones in the thread's outputs.
    if (i === 6000) snapshot = { snap: db.snapshot(), model: new Map(model) };
    const key = `key-${Math.floor(random() * 3000)}`;
    if (random() < 0.004) {
      const lt = `${key}${Math.floor(random() * 10)}`; // about a tenth of the keys after `key`, bytewise
      await db.deleteRange({ gte: key, lt });
      for (const k of [...model.keys()]) if (k >= key && k < lt) model.delete(k);
      ranges++;
    } else if (random() < 0.15) {
      await db.delete(utf8(key));
      model.delete(key);
    } else {
      const value = `v${i}-${'x'.repeat(Math.floor(random() * 60))}`;
      await db.put(utf8(key), utf8(value));
      model.set(key, value);
    }
  }
  const stats = db.stats();
  assert.ok(stats.threadCompactions > 0, `compactions ran on the thread (${stats.threadCompactions} of ${stats.compactions})`);
  assert.ok(ranges > 20, `${ranges} range deletes`);
  for (let i = 0; i < 3000; i++) assert.equal(text(await db.get(utf8(`key-${i}`))), model.get(`key-${i}`), `key-${i}`);
  for (let i = 0; i < 3000; i += 7) assert.equal(text(await db.get(utf8(`key-${i}`), { snapshot: snapshot!.snap })), snapshot!.model.get(`key-${i}`), `key-${i} at the snapshot`);
  const atSnapshot = new Map<string, string>();
  for await (const [k, v] of db.iterator({ snapshot: snapshot!.snap })) atSnapshot.set(text(k)!, text(v)!);
  assert.deepEqual([...atSnapshot].sort(), [...snapshot!.model].sort());
  snapshot!.snap.release();
  await db.close();
  db = await Db.open(dir.path, SMALL);
  const seen = new Map<string, string>();
  for await (const [k, v] of db.iterator()) seen.set(text(k)!, text(v)!);
  assert.deepEqual([...seen].sort(), [...model].sort());
  assert.equal((await db.verify()).ok, true);
  await db.close();
});

test('a corrupt input table fails a compaction on the thread with CORRUPTION naming the file', async (t) => {
  const dir = tempDir('compaction-thread-corrupt');
  t.after(() => dir.remove());
  // Many L0 tables and no compaction yet.
  const noCompaction = { ...SMALL, l0CompactionTrigger: 100, l0SlowdownTrigger: 100, l0StopTrigger: 100 };
  let db = await Db.open(dir.path, noCompaction);
  for (let i = 0; i < 3000; i++) await db.put(utf8(`key-${i % 700}`), utf8(`value-${i}-${'y'.repeat(40)}`));
  await waitUntil(() => db.stats().immutableMemtables === 0, 'flushes');
  assert.ok(db.stats().levels[0]!.files >= 4);
  await db.close();
  const tables = readdirSync(dir.path).filter((n) => n.endsWith('.sst'));
  const victim = join(dir.path, tables[0]!);
  const bytes = readFileSync(victim);
  bytes[20] = bytes[20]! ^ 0xff; // inside the first data block: its checksum no longer matches
  writeFileSync(victim, bytes);

  db = await Db.open(dir.path, { ...SMALL, l0CompactionTrigger: 2 });
  let failure: DbError | undefined;
  async function probe() {
    try {
      await db.put(utf8('probe'), utf8('x'));
    } catch (err) {
      failure = err as DbError;
    }
  }
  // Writes fail once the background error is set; poll with writes until one does.
  const deadline = Date.now() + 30_000;
  while (failure === undefined && Date.now() < deadline) {
    await probe();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(failure, 'a write fails after the compaction failed');
  assert.equal(failure.code, 'CORRUPTION');
  assert.match(failure.message, new RegExp(tables[0]!.replace('.', '\\.')));
  assert.match(failure.message, /checksum mismatch/);
  await db.close();
});

test('closing during compactRange: compactRange resolves or rejects DB_CLOSED, close resolves, nothing is lost', async (t) => {
  for (const where of ['thread', 'memory'] as const) {
    for (const delayMs of [0, 3, 10]) {
      const dir = tempDir('compaction-thread-close');
      t.after(() => dir.remove());
      const fileSystem = where === 'memory' ? new MemoryFileSystem() : undefined;
      const path = where === 'memory' ? '/db' : dir.path;
      let db = await Db.open(path, { ...SMALL, fileSystem });
      const model = new Map<string, string>();
      for (let i = 0; i < 15_000; i++) {
        const key = `key-${(i * 7919) % 5000}`;
        const value = `v${i}-${'x'.repeat(40)}`;
        await db.put(utf8(key), utf8(value));
        model.set(key, value);
      }
      const compacting = db.compactRange().then(
        () => undefined,
        (err: DbError) => err,
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await db.close();
      const outcome = await compacting;
      const what = `${where}, close after ${delayMs} ms`;
      assert.ok(outcome === undefined || outcome.code === 'DB_CLOSED', `${what}: compactRange ended with ${outcome?.code}: ${outcome?.message}`);
      db = await Db.open(path, { ...SMALL, fileSystem });
      for (const [key, value] of model) assert.equal(text(await db.get(utf8(key))), value, `${what}: ${key}`);
      assert.equal((await db.verify()).ok, true);
      await db.close();
    }
  }
});

const BROKEN_WORKER_EXIT_WAIT_MS = 60_000;

/**
 * Runs a job (an empty plan) on a thread whose worker module throws on load; the thread is
 * closed after the test. `warm`: start the worker first and let its load fail before the job
 * is sent, as when a database has flushed and not yet compacted.
 */
async function brokenThreadJob(t: { after(fn: () => unknown): void }, warm: boolean): Promise<unknown> {
  const dir = tempDir('compaction-thread-start');
  t.after(() => dir.remove());
  const entry = join(dir.path, 'broken-worker.mjs');
  writeFileSync(entry, "throw new Error('this worker cannot load');\n");
  const thread = new CompactionThread(dir.path, { tableCacheFilesMax: 8, entry: pathToFileURL(entry) });
  t.after(() => thread.close());
  if (warm) {
    thread.warm();
    // Until the worker's load has failed and it is gone (a bounded poll, not a guess at how long loading takes).
    const deadline = Date.now() + BROKEN_WORKER_EXIT_WAIT_MS;
    while (thread.started) {
      assert.ok(Date.now() < deadline, `the worker that cannot load was still running after ${BROKEN_WORKER_EXIT_WAIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  let numbers = 100;
  const writer = { fs: new NodeFileSystem(), dir: dir.path, builder: { blockBytes: 4096, bloomBitsPerKey: 10 }, tableBytesTarget: 1 << 20, newFileNumber: () => numbers++, pause: () => Promise.resolve() };
  const plan = { level: 0, inputs: [], nextInputs: [], outputLevel: 1, score: 1 };
  return thread.run(plan, { writer, version: Version.empty(), snapshots: [], allowTrivialMove: false });
}

for (const warm of [false, true]) {
  const when = warm ? 'started by warm() before its first job' : 'started by its first job';
  test(`a compaction thread ${when} whose module fails to load rejects its job as a start failure, not a compaction failure`, async (t) => {
    await assert.rejects(brokenThreadJob(t, warm), (err: unknown) => {
      assert.ok(err instanceof CompactionThreadStartError, String(err));
      assert.match(String((err.cause as Error).message), /cannot load/);
      return true;
    });
  });
}

test('warm() starts the worker before any job, and close() stops it', async (t) => {
  const dir = tempDir('compaction-thread-warm-ok');
  t.after(() => dir.remove());
  const thread = new CompactionThread(dir.path, { tableCacheFilesMax: 8 });
  assert.equal(thread.started, false);
  thread.warm();
  assert.equal(thread.started, true);
  await thread.close();
  assert.equal(thread.started, false);
});

test('stats say whether compactions run on the thread', async (t) => {
  const dir = tempDir('compaction-thread-stats');
  t.after(() => dir.remove());
  for (const [options, expected] of [[{}, true], [{ compactionThread: false }, false]] as const) {
    const db = await Db.open(dir.path, options);
    assert.equal(db.stats().compactionThread, expected);
    assert.equal(db.stats().compactionThreadError, undefined);
    await db.close();
  }
  const memory = await Db.open('/db', { fileSystem: new MemoryFileSystem() });
  assert.equal(memory.stats().compactionThread, false, 'a MemoryFileSystem compacts here');
  await memory.close();
});
