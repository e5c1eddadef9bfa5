import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeTables, type TableWriterContext } from '../../engine/compaction/table-writer.ts';
import { SYNCS_IN_FLIGHT_MAX } from '../../engine/options.ts';
import type { FileSystem, WritableFile } from '../../engine/fs/file-system.ts';
import { MemoryFileSystem } from '../../engine/fs/memory-file-system.ts';
import { ValueKind } from '../../engine/internal-key.ts';
import { Memtable } from '../../engine/memtable/memtable.ts';
import { yieldToEventLoop } from '../../engine/util/mutex.ts';

/** A memtable of `count` entries of 100-byte values, positioned for a flush. */
function source(count: number) {
  const mem = new Memtable(1);
  for (let i = 0; i < count; i++) mem.add(new TextEncoder().encode(`key-${String(i).padStart(6, '0')}`), i + 1, ValueKind.Put, new Uint8Array(100).fill(i & 0xff));
  const it = mem.iterator();
  it.seekToFirst();
  return it;
}

/** A file system over `inner` whose fsyncs take a few event-loop turns, counting open files. */
function slowSyncs(inner: MemoryFileSystem, failSyncOf?: number) {
  const counts = { open: 0, maxOpen: 0, closes: new Map<string, number>() };
  let created = 0;
  const fs: FileSystem = Object.create(inner);
  fs.createWritable = (path: string): WritableFile => {
    const file = inner.createWritable(path);
    const index = ++created;
    counts.open++;
    counts.maxOpen = Math.max(counts.maxOpen, counts.open);
    return {
      path: file.path,
      append: (bytes: Uint8Array) => file.append(bytes),
      size: () => file.size(),
      async sync() {
        for (let i = 0; i < 3; i++) await yieldToEventLoop();
        if (index === failSyncOf) throw new Error(`fsync of table ${index} failed`);
        return file.sync();
      },
      close() {
        counts.open--;
        counts.closes.set(path, (counts.closes.get(path) ?? 0) + 1);
        file.close();
      },
    };
  };
  return { fs, counts };
}

function context(fs: FileSystem): TableWriterContext {
  let number = 10;
  return { fs, dir: '/db', builder: { blockBytes: 1024, bloomBitsPerKey: 10 }, tableBytesTarget: 8 * 1024, newFileNumber: () => number++, pause: yieldToEventLoop };
}

test('outputs are fsynced while the next is built, but at most a few at a time, each closed once', async () => {
  const inner = new MemoryFileSystem();
  inner.mkdirp('/db');
  const { fs, counts } = slowSyncs(inner);
  const metas = await writeTables(context(fs), source(3000), () => true);
  assert.ok(metas.length > 20, `${metas.length} tables`);
  assert.equal(counts.open, 0, 'every output closed');
  assert.ok([...counts.closes.values()].every((n) => n === 1), 'each closed once');
  // The one being built, plus those whose fsync is still running.
  assert.equal(SYNCS_IN_FLIGHT_MAX, 2);
  assert.ok(counts.maxOpen <= 4, `${counts.maxOpen} open at once (the one being built and up to 3 syncing)`);
  assert.ok(counts.maxOpen >= 2, 'fsyncs did overlap the next build');
});

test('a failed fsync fails the job at once, and every output is closed once and removed', async () => {
  const inner = new MemoryFileSystem();
  inner.mkdirp('/db');
  const { fs, counts } = slowSyncs(inner, 3);
  await assert.rejects(writeTables(context(fs), source(3000), () => true), /fsync of table 3 failed/);
  assert.equal(counts.open, 0);
  assert.ok([...counts.closes.values()].every((n) => n === 1));
  assert.ok(counts.closes.size <= 6, `stopped soon after the failure: ${counts.closes.size} tables started`);
  assert.deepEqual(inner.list('/db'), [], 'no output left behind');
});

test('a failed removal of an obsolete file is counted, not thrown, on the in-memory file system too', () => {
  const fs = new MemoryFileSystem();
  fs.mkdirp('/db');
  fs.createWritable('/db/000001.sst').close();
  fs.fault = (op) => (op === 'remove' ? new Error('injected') : undefined);
  fs.removeSoon('/db/000001.sst');
  assert.equal(fs.failedRemovals, 1);
  fs.fault = undefined;
  fs.removeSoon('/db/000001.sst');
  assert.equal(fs.failedRemovals, 1);
  assert.deepEqual(fs.list('/db'), []);
});
