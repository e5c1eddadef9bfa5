/**
 * The write loop's order under slow and failing fsyncs (engine/db.ts, writeLoop): groups are
 * appended, fsynced, applied and acknowledged strictly in order, one fsync at a time, and
 * nothing is appended behind an fsync that has not succeeded. The WAL's fsyncs here finish
 * when the test says, or after a few turns.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { IoError } from '../../engine/errors.ts';
import type { WritableFile } from '../../engine/fs/file-system.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { prefixState, sortedEntries, type LoggedWrite } from '../helpers/write-log.ts';

const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** A file system whose WAL fsyncs make the bytes durable at once but finish only when released. */
class HeldSyncFileSystem extends MemoryFileSystem {
  /** WAL fsyncs started and not yet finished, in the order they started. */
  readonly held: Array<{ finish(error?: Error): void }> = [];
  /** When set, a WAL fsync finishes on its own after this many turns (instead of waiting in `held`). */
  turnsToFinish: (() => number) | undefined;

  override createWritable(path: string): WritableFile {
    const file = super.createWritable(path);
    if (!path.endsWith('.wal')) return file;
    const sync = file.sync.bind(file);
    file.sync = () => {
      const durable = sync();
      const turns = this.turnsToFinish?.();
      if (turns !== undefined) return afterTurns(turns).then(() => durable);
      return new Promise<void>((resolve, reject) => this.held.push({ finish: (error) => (error ? reject(error) : durable.then(resolve, reject)) }));
    };
    return file;
  }
}

async function afterTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function openHeld(): Promise<{ db: Db; fileSystem: HeldSyncFileSystem }> {
  const fileSystem = new HeldSyncFileSystem();
  fileSystem.turnsToFinish = () => 0; // opening fsyncs as usual
  const db = await Db.open('/db', { fileSystem });
  fileSystem.turnsToFinish = undefined;
  return { db, fileSystem };
}

test('after a failed fsync nothing is appended behind it: the queued writes fail, and so does every later one', async () => {
  const { db, fileSystem } = await openHeld();
  const a = db.put('a', '1', { sync: true });
  await afterTurns(2);
  const walBytes = db.stats().walBytes;
  const b = db.put('b', '2', { sync: true });
  await afterTurns(2);
  fileSystem.held[0]!.finish(new IoError('memfs: fdatasync failed (EIO)'));
  await assert.rejects(a, { code: 'IO_ERROR' });
  await assert.rejects(b, { code: 'IO_ERROR' });
  assert.equal(db.stats().walBytes, walBytes, "b's record never reached the log");
  assert.deepEqual([dec(await db.get('a')), dec(await db.get('b'))], [undefined, undefined], 'a failed write is not applied');
  await assert.rejects(db.put('c', '3'), { code: 'IO_ERROR' });
  await db.close();
});

test('an append failing after a synced group rejects only the later group; the earlier one is acknowledged', async () => {
  const { db, fileSystem } = await openHeld();
  const a = db.put('a', '1', { sync: true });
  await afterTurns(2);
  const b = db.put('b', '2', { sync: true });
  fileSystem.fault = (op, path) => (op === 'append' && path.endsWith('.wal') ? new IoError('memfs: append failed (ENOSPC)') : undefined);
  fileSystem.held[0]!.finish();
  assert.equal(await a, 1, 'a was whole in the log and its fsync succeeded');
  await assert.rejects(b, { code: 'IO_ERROR' });
  fileSystem.fault = undefined;
  await assert.rejects(db.put('c', '3'), { code: 'IO_ERROR' }, 'writes stay refused after the failed append');
  await db.close();
  const reopened = await Db.open('/db', { fileSystem: fileSystem.crash(3, { data: 'drop' }) });
  assert.deepEqual([dec(await reopened.get('a')), dec(await reopened.get('b'))], ['1', undefined]);
  await reopened.close();
});

test('concurrent writers, sync and not, with fsyncs taking a few turns: a crash at any call keeps every write acknowledged with sync, as a prefix', async (t) => {
  const seed = 1919;
  const random = seededRandom(seed);
  const fileSystem = new HeldSyncFileSystem();
  const options = { fileSystem, memtableBytes: 4096, tableBytesTarget: 4096, blockBytes: 512 };
  fileSystem.turnsToFinish = () => Math.floor(random() * 4);
  const db = await Db.open('/db', options);
  const states: Array<{ fs: MemoryFileSystem; op: string; syncedSeq: number }> = [];
  const writes: LoggedWrite[] = [];
  let syncedSeq = 0;
  let lastAcknowledged = 0;
  let callIndex = 0;
  fileSystem.fault = (op, path) => {
    if (callIndex++ % 2 === 0 && (op === 'append' || op === 'sync' || op === 'create' || op === 'rename')) {
      states.push({ fs: fileSystem.crash(seed + callIndex), op: `${op} ${path}`, syncedSeq });
    }
    return undefined;
  };
  const writer = async (id: number) => {
    for (let i = 0; i < 60; i++) {
      const key = `key-${String(Math.floor(random() * 50)).padStart(2, '0')}`;
      const value = random() < 0.1 ? undefined : `w${id}-${i}-${'x'.repeat(Math.floor(random() * 80))}`;
      const sync = random() < 0.6;
      const seq = value === undefined ? await db.delete(key, { sync }) : await db.put(key, value, { sync });
      assert.ok(seq > lastAcknowledged, `writes are acknowledged in sequence order: ${seq} after ${lastAcknowledged}`);
      lastAcknowledged = seq;
      writes.push({ key, value, seq });
      if (sync) syncedSeq = Math.max(syncedSeq, seq);
      if (random() < 0.3) await afterTurns(1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, id) => writer(id)));
  const stats = db.stats();
  await db.close();
  fileSystem.fault = undefined;
  fileSystem.turnsToFinish = () => 0;
  assert.ok(stats.writesGrouped > stats.writeGroups * 1.5, `writes share groups: ${stats.writesGrouped} writes in ${stats.writeGroups} groups`);
  assert.ok(stats.flushes >= 3, `the memtable rotates with groups in flight: ${stats.flushes} flushes`);
  t.diagnostic(`${states.length} crash states; ${stats.writesGrouped} writes in ${stats.writeGroups} groups, ${stats.walSyncs} fsyncs`);
  for (const [i, state] of states.entries()) {
    const where = `crash state ${i} (before ${state.op})`;
    const reopened = await Db.open('/db', { ...options, fileSystem: state.fs });
    const recovered = reopened.lastSequence;
    assert.ok(recovered >= state.syncedSeq, `${where}: recovered seq ${recovered} < acknowledged sync seq ${state.syncedSeq}`);
    const contents: Array<[string, string]> = [];
    for await (const [k, v] of reopened.iterator()) contents.push([dec(k)!, dec(v)!]);
    assert.deepEqual(contents, sortedEntries(prefixState(writes, recovered)), `${where}: not the prefix up to seq ${recovered}`);
    await reopened.close();
  }
});
