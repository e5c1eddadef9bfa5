/**
 * Byte flips in the files of a whole database (SSTables, MANIFEST, CURRENT): every one is
 * reported as CORRUPTION naming the damaged file, or is harmless (the reads are still right),
 * and never turns into a silently wrong read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { runSstDump } from '../../engine/tools/sst-dump.ts';

const SMALL = { memtableBytes: 8192, blockBytes: 512, tableBytesTarget: 16384, levelOneBytes: 65536 };
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function buildDatabase(): Promise<{ fs: MemoryFileSystem; model: Map<string, string> }> {
  const fs = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem: fs, ...SMALL });
  const model = new Map<string, string>();
  for (let i = 0; i < 1500; i++) {
    const key = `key-${String(i % 700).padStart(4, '0')}`;
    const value = `value-${i}-${'q'.repeat(i % 50)}`;
    await db.put(key, value);
    model.set(key, value);
  }
  await db.compactRange();
  await db.close();
  return { fs, model };
}

/** Opens and reads everything; returns the error if any, after checking no read was wrong. */
async function readAll(fs: MemoryFileSystem, model: Map<string, string>): Promise<(Error & { code?: string }) | undefined> {
  let db: Db | undefined;
  try {
    db = await Db.open('/db', { fileSystem: fs, ...SMALL });
    for (const [k, v] of model) {
      const got = await db.get(k);
      assert.equal(got === undefined ? undefined : dec(got), v, `silently wrong read of ${k}`);
    }
    let n = 0;
    for await (const [k, v] of db.iterator()) {
      assert.equal(dec(v), model.get(dec(k)), `silently wrong scan entry ${dec(k)}`);
      n++;
    }
    assert.equal(n, model.size, 'scan silently lost entries');
    return undefined;
  } catch (err) {
    if ((err as { code?: string }).code === undefined) throw err; // an assertion above
    return err as Error & { code?: string };
  } finally {
    await db?.close().catch(() => {});
  }
}

function flipped(fs: MemoryFileSystem, path: string, at: number, bit: number): MemoryFileSystem {
  const copy = fs.crash(0, { tornWrites: false });
  const bytes = copy.peek(path);
  bytes[at] = bytes[at]! ^ (1 << bit);
  copy.poke(path, bytes);
  return copy;
}

test('byte flips in SSTables are reported as CORRUPTION naming the table, never as wrong data', async () => {
  const { fs, model } = await buildDatabase();
  const tables = fs.list('/db').filter((n) => n.endsWith('.sst'));
  assert.ok(tables.length >= 2);
  const random = seededRandom(99);
  let corruptions = 0;
  for (let i = 0; i < 120; i++) {
    const name = tables[i % tables.length]!;
    const size = fs.peek(`/db/${name}`).length;
    const at = Math.floor(random() * size);
    const err = await readAll(flipped(fs, `/db/${name}`, at, Math.floor(random() * 8)), model);
    if (err === undefined) continue;
    assert.equal(err.code, 'CORRUPTION', `flip at ${name}:${at}: ${err.message}`);
    assert.match(err.message, new RegExp(name), `flip at ${name}:${at}: error does not name the file`);
    corruptions++;
  }
  assert.ok(corruptions >= 100, `only ${corruptions} of 120 flips were detected`);
});

test('sst-dump --verify finds a flipped byte in a table of the database', async () => {
  const { fs } = await buildDatabase();
  const name = fs.list('/db').find((n) => n.endsWith('.sst'))!;
  const lines: string[] = [];
  assert.equal(runSstDump(['--verify', `/db/${name}`], fs, (l) => lines.push(l)), 0);
  const bad = flipped(fs, `/db/${name}`, 100, 3);
  assert.equal(runSstDump(['--verify', `/db/${name}`], bad, (l) => lines.push(l)), 3);
});

test('byte flips in the MANIFEST are reported as CORRUPTION naming it, or are a dropped torn tail', async () => {
  const { fs, model } = await buildDatabase();
  const manifest = fs.list('/db').find((n) => n.startsWith('MANIFEST-'))!;
  const size = fs.peek(`/db/${manifest}`).length;
  let corruptions = 0;
  for (let at = 0; at < size; at += Math.max(1, Math.floor(size / 60))) {
    const err = await readAll(flipped(fs, `/db/${manifest}`, at, at % 8), model);
    if (err === undefined) continue;
    assert.equal(err.code, 'CORRUPTION', `flip at ${at}: ${err.message}`);
    assert.match(err.message, new RegExp(manifest));
    corruptions++;
  }
  assert.ok(corruptions > 0);
});

test('a damaged or missing CURRENT is CORRUPTION naming CURRENT', async () => {
  const { fs, model } = await buildDatabase();
  for (const content of ['MANIFEST-99999\n', 'garbage', '', 'MANIFEST-000001']) {
    const copy = fs.crash(0, { tornWrites: false });
    copy.poke('/db/CURRENT', new TextEncoder().encode(content));
    const err = await readAll(copy, model);
    assert.equal(err?.code, 'CORRUPTION', `CURRENT = ${JSON.stringify(content)}`);
    assert.match(err!.message, /CURRENT/);
  }
  const missing = fs.crash(0, { tornWrites: false });
  missing.remove('/db/CURRENT');
  const err = await readAll(missing, model);
  assert.equal(err?.code, 'CORRUPTION');
  assert.match(err!.message, /CURRENT/);
});

test('a truncated table is CORRUPTION naming it', async () => {
  const { fs, model } = await buildDatabase();
  const name = fs.list('/db').find((n) => n.endsWith('.sst'))!;
  const bytes = fs.peek(`/db/${name}`);
  for (const length of [0, 10, bytes.length - 1, Math.floor(bytes.length / 2)]) {
    const copy = fs.crash(0, { tornWrites: false });
    copy.poke(`/db/${name}`, bytes.subarray(0, length));
    const err = await readAll(copy, model);
    assert.equal(err?.code, 'CORRUPTION', `truncated to ${length}`);
    assert.match(err!.message, new RegExp(name));
  }
});
