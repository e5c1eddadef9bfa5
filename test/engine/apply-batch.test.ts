/**
 * A follower's apply path (Db.applyBatch): a batch that follows on exactly is logged as
 * shipped, byte for byte, and owes nothing to the caller's buffer afterwards; one that overlaps
 * what is applied is trimmed to its new ops, range deletes included; shipped ops are held to
 * the same limits as the public API's, with the op named.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { ValueKind } from '../../engine/internal-key.ts';
import { encodeBatch, type BatchOp } from '../../engine/write-batch.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const put = (key: string, value: string): BatchOp => ({ kind: ValueKind.Put, key: bytes(key), value: bytes(value) });
const del = (key: string): BatchOp => ({ kind: ValueKind.Delete, key: bytes(key), value: new Uint8Array(0) });
const delRange = (start: string, end: string): BatchOp => ({ kind: ValueKind.RangeDelete, key: bytes(start), value: bytes(end) });

async function contents(db: Db): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of db.iterator()) out.push(`${text(k)}=${text(v)}`);
  return out;
}

/** Every record the database commits, copied. */
function recordsOf(db: Db): Array<{ first: number; last: number; record: Uint8Array }> {
  const out: Array<{ first: number; last: number; record: Uint8Array }> = [];
  db.onCommit((first, last, record) => out.push({ first, last, record: record.slice() }));
  return out;
}

test('a batch that follows on exactly is logged byte for byte, and the caller may reuse its buffer', async () => {
  const fileSystem = new MemoryFileSystem();
  let follower = await Db.open('/db', { fileSystem });
  const committed = recordsOf(follower);
  const shipped = encodeBatch(1, [put('a', 'one'), delRange('b', 'd'), put('c', 'three'), del('x')]);
  const original = shipped.slice();
  assert.equal(await follower.applyBatch(shipped), 4);
  assert.deepEqual(committed, [{ first: 1, last: 4, record: original }]);
  shipped.fill(0xee);
  assert.deepEqual(await contents(follower), ['a=one', 'c=three']);
  await follower.close();
  follower = await Db.open('/db', { fileSystem });
  assert.deepEqual(await contents(follower), ['a=one', 'c=three'], 'the WAL holds the batch as it was shipped');
  assert.equal(follower.lastSequence, 4);
  await follower.close();
});

test('a batch that overlaps what is applied is trimmed to its new ops, range deletes included', async () => {
  const ops = [put('a', '1'), put('b', '2'), delRange('a', 'c'), put('c', '3'), put('b', '4')];
  const whole = await Db.open('/db', { fileSystem: new MemoryFileSystem() });
  await whole.applyBatch(encodeBatch(1, ops));

  const follower = await Db.open('/db', { fileSystem: new MemoryFileSystem() });
  const committed = recordsOf(follower);
  assert.equal(await follower.applyBatch(encodeBatch(1, ops.slice(0, 2))), 2);
  // The leader's batch 1..5 again, as a resent frame would bring it: only 3..5 are new.
  assert.equal(await follower.applyBatch(encodeBatch(1, ops)), 5);
  assert.deepEqual(committed.map(({ first, last }) => [first, last]), [[1, 2], [3, 5]]);
  assert.deepEqual(committed[1]!.record, encodeBatch(3, ops.slice(2)), 'the trimmed record holds ops 3..5 only');
  assert.deepEqual(await contents(follower), ['b=4', 'c=3']);
  assert.deepEqual(await contents(follower), await contents(whole));
  // Wholly applied already: nothing is logged.
  assert.equal(await follower.applyBatch(encodeBatch(2, ops.slice(1, 3))), 5);
  assert.equal(committed.length, 2);
  await whole.close();
  await follower.close();
});

test('shipped ops are held to the key and value limits, and the refused op is named', async () => {
  const follower = await Db.open('/db', { fileSystem: new MemoryFileSystem(), keyBytesMax: 4, valueBytesMax: 8 });
  const refused = async (ops: BatchOp[], message: RegExp) => {
    await assert.rejects(follower.applyBatch(encodeBatch(1, ops)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, message);
      return true;
    });
  };
  await refused([put('a', '1'), put('toolong', '2')], /op 1 has a key of 7 bytes, more than keyBytesMax \(4\)/);
  await refused([put('a', 'a value too long')], /op 0 has a value of 16 bytes, more than valueBytesMax \(8\)/);
  await refused([del('b'), delRange('a', 'zzzzz')], /op 1 is a range delete whose end is 5 bytes, more than keyBytesMax \(4\)/);
  await assert.rejects(follower.applyBatch(encodeBatch(1, [delRange('b', 'a')])), /malformed batch .*start is not below its end/);
  assert.equal(follower.lastSequence, 0, 'nothing of a refused batch is applied');
  assert.equal(await follower.applyBatch(encodeBatch(1, [put('abcd', '12345678'), delRange('a', 'zzzz')])), 2);
  await follower.close();
});
