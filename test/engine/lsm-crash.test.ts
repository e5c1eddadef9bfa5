/**
 * Crashes in the middle of flushes and compactions, through the fs seam: a workload runs
 * once on a MemoryFileSystem, and before each of its file-system calls the test takes the
 * crash state a power cut at that moment would leave. Every state must open, hold every
 * write acknowledged with sync:true, hold exactly a prefix of the write order, and keep no
 * table the MANIFEST does not name (so no half-written table survives).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { TableReader } from '../../engine/sst/table-reader.ts';
import { verifyTable } from '../../engine/sst/table-verify.ts';
import { prefixState, sortedEntries, type LoggedWrite } from '../helpers/write-log.ts';

const TINY = { memtableBytes: 2048, tableBytesTarget: 4096, levelOneBytes: 8192, levelSizeMultiplier: 4, blockBytes: 512, l0CompactionTrigger: 2, l0SlowdownTrigger: 4, l0StopTrigger: 6 };
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

interface CrashState {
  fs: MemoryFileSystem;
  op: string;
  syncedSeq: number;
}

async function contents(db: Db): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const [k, v] of db.iterator()) out.push([dec(k), dec(v)]);
  return out;
}

test('a crash at any file-system call during flushes and compactions, with range deletes among the writes, loses no acknowledged write', async (t) => {
  const seed = 4242;
  const random = seededRandom(seed);
  const fileSystem = new MemoryFileSystem();
  const states: CrashState[] = [];
  let syncedSeq = 0;
  let opIndex = 0;
  fileSystem.fault = (op, path) => {
    // Every third call keeps the run to a few hundred crash states; seeded offsets vary it.
    if (opIndex++ % 3 === 0 && op !== 'read' && op !== 'list' && op !== 'open') {
      states.push({ fs: fileSystem.crash(seed + opIndex), op: `${op} ${path}`, syncedSeq });
    }
    return undefined;
  };
  const db = await Db.open('/db', { fileSystem, ...TINY });
  const writes: LoggedWrite[] = [];
  for (let i = 0; i < 600; i++) {
    const key = `key-${String(Math.floor(random() * 80)).padStart(3, '0')}`;
    const sync = random() < 0.5;
    if (random() < 0.04) {
      // A range delete of up to 12 of the 80 keys.
      const from = Number(key.slice('key-'.length));
      const end = `key-${String(from + 1 + Math.floor(random() * 12)).padStart(3, '0')}`;
      const seq = await db.deleteRange({ gte: key, lt: end }, { sync });
      writes.push({ key, value: undefined, end, seq });
      if (sync) syncedSeq = seq;
      continue;
    }
    const value = random() < 0.15 ? undefined : `v${i}-${'y'.repeat(Math.floor(random() * 120))}`;
    const seq = value === undefined ? await db.delete(key, { sync }) : await db.put(key, value, { sync });
    writes.push({ key, value, seq });
    if (sync) syncedSeq = seq;
  }
  await db.compactRange();
  const stats = db.stats();
  await db.close();
  fileSystem.fault = undefined;
  assert.ok(stats.flushes >= 10 && stats.compactions >= 3, `the workload must flush and compact: ${stats.flushes} flushes, ${stats.compactions} compactions`);
  assert.ok(writes.filter((w) => w.end !== undefined).length >= 10, 'the workload must delete ranges');
  const ops = new Set(states.map((s) => s.op.split(' ')[0]));
  t.diagnostic(`${states.length} crash states, at calls: ${[...ops].join(', ')}`);

  for (const [i, state] of states.entries()) {
    const where = `crash state ${i} (before ${state.op})`;
    const reopened = await Db.open('/db', { fileSystem: state.fs, ...TINY });
    const recovered = reopened.lastSequence;
    assert.ok(recovered >= state.syncedSeq, `${where}: recovered seq ${recovered} < acknowledged sync seq ${state.syncedSeq}`);
    assert.deepEqual(await contents(reopened), sortedEntries(prefixState(writes, recovered)), `${where}: not the prefix up to seq ${recovered}`);
    const tablesOnDisk = state.fs.list('/db').filter((n) => n.endsWith('.sst'));
    const tablesInVersion = reopened.stats().levels.reduce((n, l) => n + l.files, 0);
    assert.equal(tablesOnDisk.length, tablesInVersion, `${where}: stray tables ${tablesOnDisk.join(',')}`);
    for (const name of tablesOnDisk) {
      const report = verifyTable(TableReader.open(state.fs.openReadable(`/db/${name}`), Number(name.slice(0, 6))));
      assert.equal(report.ok, true, `${where}: ${name} does not verify`);
    }
    await reopened.close();
  }
});

test('a failed table write during a flush stops writes with IO_ERROR, and reopening loses nothing acknowledged', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem, ...TINY });
  const acked = new Map<string, string>();
  let failing = false;
  fileSystem.fault = (op, path) => (failing && op === 'append' && path.endsWith('.sst') ? new Error('ENOSPC: injected') : undefined);
  let rejected: unknown;
  for (let i = 0; i < 400 && rejected === undefined; i++) {
    if (i === 100) failing = true;
    try {
      await db.put(`k${i}`, `value-${i}-${'z'.repeat(64)}`, { sync: true });
      acked.set(`k${i}`, `value-${i}-${'z'.repeat(64)}`);
    } catch (err) {
      rejected = err;
    }
  }
  assert.equal((rejected as { code?: string })?.code, 'IO_ERROR');
  for (const [k, v] of acked) assert.equal(dec((await db.get(k))!), v);
  fileSystem.fault = undefined;
  await db.close();
  const reopened = await Db.open('/db', { fileSystem: fileSystem.crash(9, { tornWrites: false }), ...TINY });
  for (const [k, v] of acked) assert.equal(dec((await reopened.get(k))!), v, `lost acknowledged ${k}`);
  await reopened.close();
});
