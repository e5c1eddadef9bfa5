/**
 * Crash-state exploration (after the ALICE study): a workload runs on a MemoryFileSystem that
 * sees every file-system call. Before each call that changes the disk, the explorer takes the
 * crash states a power cut at that point could leave:
 *   - only synced data and durable directory entries survive;
 *   - everything survives (the OS wrote all of it back);
 *   - two random mixtures: a torn prefix of each unsynced tail, each unsynced create, rename
 *     or remove happened or not.
 * Every state must open, hold every write acknowledged with sync:true, hold exactly a prefix
 * of the write order, and pass a full verify (checksums, key order, level invariants).
 *
 * CRASH_EXPLORER_WRITES sets the workload size (stress runs raise it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { seededRandom, type CrashOptions } from '../../engine/fs/memory-file-system.ts';
import { prefixState, sortedEntries, type LoggedWrite } from '../helpers/write-log.ts';

const WRITES = Number(process.env.CRASH_EXPLORER_WRITES ?? 250);
const TINY = { memtableBytes: 2048, tableBytesTarget: 4096, levelOneBytes: 8192, levelSizeMultiplier: 4, blockBytes: 512, l0CompactionTrigger: 2, l0SlowdownTrigger: 4, l0StopTrigger: 6 };
const MUTATING = new Set(['create', 'append', 'sync', 'rename', 'remove', 'syncDir', 'mkdir']);
const VARIANTS: CrashOptions[] = [
  { data: 'drop', entries: 'durable' },
  { data: 'keep', entries: 'keep' },
  { data: 'random', entries: 'random' },
  { data: 'random', entries: 'random' },
];
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

interface Pending {
  fs: MemoryFileSystem;
  at: string;
  syncedSeq: number;
}

async function checkState(state: Pending, writes: LoggedWrite[]): Promise<void> {
  const where = `crash before ${state.at}`;
  const db = await Db.open('/db', { fileSystem: state.fs, ...TINY });
  try {
    const recovered = db.lastSequence;
    assert.ok(recovered >= state.syncedSeq, `${where}: recovered seq ${recovered} < acknowledged sync seq ${state.syncedSeq}`);
    const got: Array<[string, string]> = [];
    for await (const [k, v] of db.iterator()) got.push([dec(k), dec(v)]);
    assert.deepEqual(got, sortedEntries(prefixState(writes, recovered)), `${where}: not the prefix of the writes up to seq ${recovered}`);
    const report = await db.verify();
    assert.ok(report.ok, `${where}: verify failed: ${report.problems.join('; ')}`);
  } finally {
    await db.close();
  }
}

test('every crash state of a workload with flushes, compactions and range deletes recovers a prefix holding every sync write', async (t) => {
  const seed = Number(process.env.CRASH_EXPLORER_SEED ?? 77);
  const random = seededRandom(seed);
  const fileSystem = new MemoryFileSystem();
  const pending: Pending[] = [];
  let syncedSeq = 0;
  let calls = 0;
  fileSystem.fault = (op, path) => {
    calls++;
    if (MUTATING.has(op)) {
      VARIANTS.forEach((variant, i) => pending.push({ fs: fileSystem.crash(seed * 7919 + calls * 4 + i, variant), at: `call ${calls}: ${op} ${path}`, syncedSeq }));
    }
    return undefined;
  };
  const writes: LoggedWrite[] = [];
  let explored = 0;
  const drain = async () => {
    while (pending.length > 0) {
      await checkState(pending.shift()!, writes);
      explored++;
    }
  };
  const db = await Db.open('/db', { fileSystem, ...TINY });
  for (let i = 0; i < WRITES; i++) {
    const key = `k${String(Math.floor(random() * 60)).padStart(3, '0')}`;
    const sync = random() < 0.5;
    const ranged = random() < 0.05;
    const value = ranged || random() < 0.15 ? undefined : `v${i}-${'w'.repeat(Math.floor(random() * 150))}`;
    // A range delete of up to 10 of the 60 keys.
    const end = ranged ? `k${String(Number(key.slice(1)) + 1 + Math.floor(random() * 10)).padStart(3, '0')}` : undefined;
    // Writes are one at a time, so the next one takes the next sequence number: log it first,
    // so that crash states taken while it is in flight can be checked.
    const write = { seq: db.lastSequence + 1, key, value, end };
    writes.push(write);
    const seq = end !== undefined ? await db.deleteRange({ gte: key, lt: end }, { sync }) : value === undefined ? await db.delete(key, { sync }) : await db.put(key, value, { sync });
    assert.equal(seq, write.seq);
    if (sync) syncedSeq = seq;
    await drain();
  }
  await db.compactRange();
  await drain();
  const stats = db.stats();
  await db.close();
  await drain();
  t.diagnostic(`${explored} crash states explored over ${calls} file-system calls; ${stats.flushes} flushes, ${stats.compactions} compactions`);
  assert.ok(stats.flushes > 5 && stats.compactions > 0, 'the workload must flush and compact');
  assert.ok(writes.some((w) => w.end !== undefined), 'the workload must delete ranges');
  assert.ok(explored >= WRITES * VARIANTS.length);
});
