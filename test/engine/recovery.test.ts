import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { prefixState, sortedEntries, type LoggedWrite } from '../helpers/write-log.ts';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function contents(db: Db): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of db.iterator()) out.set(text(k)!, text(v)!);
  return out;
}

test('data survives close and reopen, and sequence numbers continue', async () => {
  const fileSystem = new MemoryFileSystem();
  let db = await Db.open('/db', { fileSystem });
  await db.put('a', '1');
  await db.batch([
    { type: 'put', key: 'b', value: '2' },
    { type: 'del', key: 'a' },
  ]);
  await db.close();
  db = await Db.open('/db', { fileSystem });
  assert.equal(await db.get('a'), undefined);
  assert.equal(text(await db.get('b')), '2');
  assert.equal(db.lastSequence, 3);
  assert.equal(await db.put('c', '3'), 4);
  await db.close();
  db = await Db.open('/db', { fileSystem });
  assert.deepEqual([...(await contents(db))], [['b', '2'], ['c', '3']]);
  await db.close();
});

test('after a simulated crash, every sync write survives and the state is a prefix of the write order', async () => {
  for (let round = 0; round < 40; round++) {
    const random = seededRandom(1000 + round);
    const fileSystem = new MemoryFileSystem();
    const db = await Db.open('/db', { fileSystem });
    const writes: LoggedWrite[] = [];
    let lastSyncedSeq = 0;
    const pending: Promise<void>[] = [];
    const steps = 20 + Math.floor(random() * 60);
    let crashed: MemoryFileSystem | undefined;
    for (let i = 0; i < steps && !crashed; i++) {
      const key = `k${Math.floor(random() * 10)}`;
      const sync = random() < 0.4;
      const del = random() < 0.2;
      const value = del ? undefined : `v${round}-${i}-${'x'.repeat(Math.floor(random() * 3000))}`;
      const write = del ? db.delete(key, { sync }) : db.put(key, value!, { sync });
      pending.push(
        write.then((seq) => {
          writes.push({ seq, key, value });
          if (sync && !crashed) lastSyncedSeq = Math.max(lastSyncedSeq, seq);
        }),
      );
      if (random() < 0.5) await pending[pending.length - 1];
      if (random() < 0.05) crashed = fileSystem.crash(round * 31 + i);
    }
    crashed ??= fileSystem.crash(round);
    await Promise.all(pending);
    await db.close();

    const reopened = await Db.open('/db', { fileSystem: crashed });
    const recoveredSeq = reopened.lastSequence;
    assert.ok(recoveredSeq >= lastSyncedSeq, `round ${round}: recovered seq ${recoveredSeq} < last synced ${lastSyncedSeq}`);
    assert.deepEqual(await contents(reopened), new Map(sortedEntries(prefixState(writes, recoveredSeq))), `round ${round}: not the prefix up to ${recoveredSeq}`);
    await reopened.close();
  }
});

test('a crash that tears the WAL tail is reported as dropped bytes, and nothing after it is invented', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem });
  await db.put('a', '1', { sync: true });
  await db.put('b', 'x'.repeat(50_000));
  const names = fileSystem.list('/db').filter((n) => n.endsWith('.wal'));
  const walPath = `/db/${names[names.length - 1]}`;
  const full = fileSystem.peek(walPath);
  await db.close();
  fileSystem.poke(walPath, full.subarray(0, full.length - 1000));
  const reopened = await Db.open('/db', { fileSystem });
  assert.equal(text(await reopened.get('a')), '1');
  assert.equal(await reopened.get('b'), undefined);
  assert.ok(reopened.stats().recovery.droppedBytes > 0);
  await reopened.close();
});

test('a byte flip in the middle of the WAL refuses to open with CORRUPTION naming the file', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem });
  for (let i = 0; i < 50; i++) await db.put(`k${i}`, `value-${i}`);
  const wal = fileSystem.list('/db').find((n) => n.endsWith('.wal'))!;
  await db.close();
  const bytes = fileSystem.peek(`/db/${wal}`);
  bytes[40] = bytes[40]! ^ 0x10;
  fileSystem.poke(`/db/${wal}`, bytes);
  await assert.rejects(Db.open('/db', { fileSystem }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'CORRUPTION');
    assert.match(err.message, new RegExp(wal));
    return true;
  });
});

test('a failed WAL fsync rejects the write and every later write, and loses nothing acknowledged', async () => {
  const fileSystem = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem });
  await db.put('a', '1', { sync: true });
  fileSystem.fault = (op, path) => (op === 'sync' && path.endsWith('.wal') ? new Error('EIO: injected') : undefined);
  await assert.rejects(db.put('b', '2', { sync: true }), { code: 'IO_ERROR' });
  await assert.rejects(db.put('c', '3'), { code: 'IO_ERROR' });
  assert.equal(text(await db.get('a')), '1');
  fileSystem.fault = undefined;
  await db.close();
  const reopened = await Db.open('/db', { fileSystem: fileSystem.crash(5, { tornWrites: false }) });
  assert.equal(text(await reopened.get('a')), '1');
  assert.equal(await reopened.get('c'), undefined);
  await reopened.close();
});

test('a crash before CURRENT is first written leaves a directory that opens as empty', async () => {
  const fileSystem = new MemoryFileSystem();
  fileSystem.fault = (op, path) => (op === 'rename' && path.endsWith('CURRENT.tmp') ? new Error('injected crash') : undefined);
  await assert.rejects(Db.open('/db', { fileSystem }));
  fileSystem.fault = undefined;
  const crashed = fileSystem.crash(1);
  const db = await Db.open('/db', { fileSystem: crashed });
  assert.equal(db.lastSequence, 0);
  await db.close();
});
