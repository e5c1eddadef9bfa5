import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { runLsmDump } from '../../engine/tools/lsm-dump.ts';

const SMALL = { memtableBytes: 4096, blockBytes: 512, tableBytesTarget: 8192, levelOneBytes: 16384 };

async function filled(): Promise<{ fs: MemoryFileSystem; db: Db }> {
  const fs = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem: fs, ...SMALL });
  for (let i = 0; i < 2000; i++) await db.put(`key-${String(i % 900).padStart(4, '0')}`, `value-${i}-${'s'.repeat(20)}`);
  return { fs, db };
}

test('lsm-dump prints every level and file the MANIFEST names, and its edits', async () => {
  const { fs, db } = await filled();
  await db.compactRange(); // no background work left to change the shape after this
  const levels = db.stats().levels;
  await db.close();
  const lines: string[] = [];
  assert.equal(runLsmDump(['--edits', '/db'], fs, (l) => lines.push(l)), 0);
  for (const l of levels) assert.ok(lines.includes(`L${l.level}: ${l.files} files, ${l.bytes} bytes`), `missing L${l.level}`);
  const tables = fs.list('/db').filter((n) => n.endsWith('.sst'));
  for (const t of tables) assert.ok(lines.some((l) => l.includes(t)), `table ${t} not listed`);
  assert.ok(lines.some((l) => /^edit 0: logNumber=\d+/.test(l)));
});

test('lsm-dump exits 3 on a damaged MANIFEST and 2 on bad usage', async () => {
  const { fs, db } = await filled();
  await db.close();
  const manifest = fs.list('/db').find((n) => n.startsWith('MANIFEST-'))!;
  const bytes = fs.peek(`/db/${manifest}`);
  bytes[10] = bytes[10]! ^ 0xff;
  fs.poke(`/db/${manifest}`, bytes);
  const lines: string[] = [];
  assert.equal(runLsmDump(['/db'], fs, (l) => lines.push(l)), 3);
  assert.match(lines.join('\n'), /CORRUPTION|checksum|MANIFEST/);
  assert.equal(runLsmDump([], fs, () => {}), 2);
});

test('stats count flushes, bytes per level, write amplification, bloom probes and cache hits', async () => {
  const { db } = await filled();
  await db.compactRange();
  const before = db.stats();
  assert.ok(before.flushes > 0 && before.compactions > 0);
  assert.ok(before.levels.some((l) => l.level > 0 && l.files > 0 && l.bytes > 0));
  assert.ok(before.writeAmplification > 1, `write amplification ${before.writeAmplification}`);
  assert.ok(before.userBytesWritten > 0 && before.flushBytesWritten > 0 && before.compactionBytesWritten > 0);
  // Inside the tables' key range, so only the filter can rule them out.
  for (let i = 0; i < 200; i++) await db.get(`key-${String(i).padStart(4, '0')}-absent`);
  for (let i = 0; i < 200; i++) await db.get('key-0001');
  const after = db.stats();
  assert.ok(after.bloomProbes >= before.bloomProbes + 200, 'every table lookup probes the filter');
  assert.ok(after.bloomNegatives >= before.bloomNegatives + 190, 'absent keys are ruled out by the filter');
  assert.ok(after.blockCacheHits > before.blockCacheHits + 150, 'a repeated read hits the block cache');
  assert.ok(after.blockCacheHitRate > 0 && after.blockCacheHitRate <= 1);
  await db.close();
});

test('lsm-dump counts each table\'s range tombstones and marks an exclusive bound', async () => {
  const fs = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem: fs, ...SMALL });
  for (let i = 0; i < 100; i++) await db.put(`key-${String(i).padStart(4, '0')}`, 'v');
  const snapshot = db.snapshot(); // keeps the tombstone and the keys it covers
  await db.deleteRange({ gte: 'key-0050', lt: 'key-9' });
  await db.compactRange();
  snapshot.release();
  await db.close();
  const lines: string[] = [];
  assert.equal(runLsmDump(['/db'], fs, (l) => lines.push(l)), 0);
  assert.ok(lines.some((l) => / 1 range tombstones .*\.\. "key-9"\(exclusive\)\]$/.test(l)), lines.join('\n'));
});
