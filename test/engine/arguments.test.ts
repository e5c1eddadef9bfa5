import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem, type DbError } from '../../engine/index.ts';
import { tempDir } from '../helpers/child.ts';
import { spawnTs, killHard } from '../helpers/child.ts';

async function openMemory(options: Record<string, unknown> = {}) {
  return Db.open('/db', { fileSystem: new MemoryFileSystem(), ...options });
}

const code = (expected: string) => (err: unknown) => {
  assert.equal((err as { code?: string }).code, expected, String(err));
  return true;
};

test('a key or value that is neither bytes nor a string is INVALID_ARGUMENT', async () => {
  const db = await openMemory();
  for (const bad of [undefined, null, 42, {}, [1, 2], true]) {
    await assert.rejects(db.put(bad as never, 'v'), code('INVALID_ARGUMENT'));
    await assert.rejects(db.get(bad as never), code('INVALID_ARGUMENT'));
    await assert.rejects(db.delete(bad as never), code('INVALID_ARGUMENT'));
    await assert.rejects(db.put('k', bad as never), code('INVALID_ARGUMENT'));
  }
  await db.close();
});

test('an oversized key or value is INVALID_ARGUMENT naming the limit, and writes nothing', async () => {
  const db = await openMemory({ keyBytesMax: 16, valueBytesMax: 32 });
  await assert.rejects(db.put('k'.repeat(17), 'v'), /keyBytesMax/);
  await assert.rejects(db.put('k', 'v'.repeat(33)), /valueBytesMax/);
  await assert.rejects(
    db.batch([
      { type: 'put', key: 'ok', value: 'ok' },
      { type: 'put', key: 'k', value: 'v'.repeat(33) },
    ]),
    code('INVALID_ARGUMENT'),
  );
  assert.equal(await db.get('ok'), undefined);
  assert.equal(db.lastSequence, 0);
  await db.close();
});

test('the default limits are 64 KiB keys and 64 MiB values', async () => {
  const db = await openMemory();
  await assert.rejects(db.put(new Uint8Array(64 * 1024 + 1), 'v'), code('INVALID_ARGUMENT'));
  await db.put(new Uint8Array(64 * 1024), 'v');
  assert.equal(db.options.valueBytesMax, 64 * 1024 * 1024);
  await db.close();
});

test('malformed batches and iterator options are INVALID_ARGUMENT', async () => {
  const db = await openMemory();
  await assert.rejects(db.batch('nope' as never), code('INVALID_ARGUMENT'));
  await assert.rejects(db.batch([{ type: 'upsert', key: 'k' }] as never), /upsert/);
  await assert.rejects(db.batch([null] as never), code('INVALID_ARGUMENT'));
  await assert.rejects(db.put('k', 'v', { sync: 'yes' } as never), code('INVALID_ARGUMENT'));
  await assert.rejects(db.iterator({ limit: -5 }).next(), code('INVALID_ARGUMENT'));
  await assert.rejects(db.iterator({ reverse: 1 } as never).next(), code('INVALID_ARGUMENT'));
  await assert.rejects(db.iterator({ start: 'a' } as never).next(), /start/);
  await assert.rejects(db.get('k', { snapshot: { seq: 1 } } as never), code('INVALID_ARGUMENT'));
  await db.close();
});

test('getMany refuses a non-array, a bad key (naming its index) and more keys than batchOpsMax', async () => {
  const db = await Db.open('/db', { fileSystem: new MemoryFileSystem(), batchOpsMax: 3, keyBytesMax: 8 });
  await db.put('a', '1');
  const refused = async (call: Promise<unknown>, message: RegExp) => {
    await assert.rejects(call, (err: DbError) => err.code === 'INVALID_ARGUMENT' && message.test(err.message));
  };
  await refused(db.getMany('a' as unknown as string[]), /keys must be an array/);
  await refused(db.getMany(['a', 42 as unknown as string]), /keys\[1\]/);
  await refused(db.getMany(['a', 'b', 'c', 'd']), /4 keys, more than batchOpsMax \(3\)/);
  await refused(db.getMany(['a', 'x'.repeat(9)]), /keys\[1\]: key is 9 bytes/);
  assert.equal(new TextDecoder().decode((await db.getMany(['a']))[0]), '1', 'a refused call changed nothing');
  await db.close();
});

test('an unknown or out-of-range option is INVALID_ARGUMENT', async () => {
  await assert.rejects(openMemory({ memtableSize: 5 }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /memtableSize/);
    return true;
  });
  await assert.rejects(openMemory({ memtableBytes: 1 }), code('INVALID_ARGUMENT'));
  await assert.rejects(openMemory({ sync: 'true' }), code('INVALID_ARGUMENT'));
  await assert.rejects(Db.open('', {}), code('INVALID_ARGUMENT'));
});

test('every call after close rejects with DB_CLOSED', async () => {
  const db = await openMemory();
  await db.put('k', 'v');
  await db.close();
  await db.close(); // idempotent
  await assert.rejects(db.put('k', 'v'), code('DB_CLOSED'));
  await assert.rejects(db.get('k'), code('DB_CLOSED'));
  await assert.rejects(db.getMany(['k']), code('DB_CLOSED'));
  await assert.rejects(db.delete('k'), code('DB_CLOSED'));
  await assert.rejects(db.batch([{ type: 'del', key: 'k' }]), code('DB_CLOSED'));
  await assert.rejects(db.iterator().next(), code('DB_CLOSED'));
  assert.throws(() => db.snapshot(), code('DB_CLOSED'));
});

test('writes queued before close are finished, not dropped', async () => {
  const db = await openMemory();
  const writes = Array.from({ length: 50 }, (_, i) => db.put(`k${i}`, 'v', { sync: true }));
  const closing = db.close();
  const results = await Promise.allSettled(writes);
  await closing;
  assert.ok(results.every((r) => r.status === 'fulfilled'));
});

test('a second open of the same directory in this process is DB_LOCKED', async (t) => {
  const dir = tempDir('lock');
  t.after(() => dir.remove());
  const db = await Db.open(dir.path);
  await assert.rejects(Db.open(dir.path), code('DB_LOCKED'));
  await db.close();
  const again = await Db.open(dir.path);
  await again.close();
});

test('an open by another live process is DB_LOCKED, and its lock is taken over once it is killed', async (t) => {
  const dir = tempDir('lock2');
  t.after(() => dir.remove());
  const child = spawnTs('test/fixtures/sync-writer.ts', [dir.path]);
  t.after(() => killHard(child));
  await child.waitForLine((l) => l.startsWith('ready'));
  await assert.rejects(Db.open(dir.path), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'DB_LOCKED');
    assert.match(err.message, new RegExp(String(child.process.pid)));
    return true;
  });
  await killHard(child);
  const db = await Db.open(dir.path);
  await db.close();
});

test('opening a missing directory with createIfMissing false is NOT_FOUND', async () => {
  await assert.rejects(Db.open('/nowhere', { fileSystem: new MemoryFileSystem(), createIfMissing: false }), code('NOT_FOUND'));
});

test('destroy removes every file of a closed database, refuses an open one, and leaves others alone', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem, memtableBytes: 4096 });
  for (let i = 0; i < 300; i++) await db.put(`k${i}`, 'v'.repeat(50));
  fileSystem.poke('/db/notes.txt', new TextEncoder().encode('mine'));
  await assert.rejects(Db.destroy('/db', { fileSystem }), code('DB_LOCKED'));
  await db.close();
  await Db.destroy('/db', { fileSystem });
  assert.deepEqual(fileSystem.list('/db'), ['notes.txt']);
  const fresh = await Db.open('/db', { fileSystem });
  assert.equal(fresh.lastSequence, 0);
  assert.equal(await fresh.get('k1'), undefined);
  await fresh.close();
});
