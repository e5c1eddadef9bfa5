import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueKind } from '../../engine/internal-key.ts';
import { LogWriter } from '../../engine/log/log-writer.ts';
import { decodeBatch, encodeBatch } from '../../engine/write-batch.ts';
import { exampleHexInDoc } from '../helpers/doc-example.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

const exampleBytesInDoc = () => exampleHexInDoc(new URL('../../docs/formats/wal.md', import.meta.url), 'wal-example');

test('the range-delete record in docs/formats/wal.md is the bytes the engine writes, and decodes back', () => {
  const ops = [
    { kind: ValueKind.RangeDelete, key: utf8('user:'), value: utf8('user;') },
    { kind: ValueKind.Put, key: utf8('user:7'), value: utf8('x') },
  ];
  const framed = new LogWriter(0).frame(encodeBatch(9, ops));
  assert.equal(Buffer.from(framed).toString('hex'), exampleBytesInDoc());
  const decoded = decodeBatch(framed.subarray(7), 'example');
  assert.equal(decoded.seq, 9);
  assert.deepEqual(decoded.ops.map((op) => [op.kind, Buffer.from(op.key).toString(), Buffer.from(op.value).toString()]), [
    [ValueKind.RangeDelete, 'user:', 'user;'],
    [ValueKind.Put, 'user:7', 'x'],
  ]);
});

test('a range delete whose start is not below its end, or an unknown kind, is corruption', () => {
  for (const [start, end] of [['b', 'a'], ['a', 'a']] as const) {
    const bytes = encodeBatch(1, [{ kind: ValueKind.RangeDelete, key: utf8(start), value: utf8(end) }]);
    assert.throws(() => decodeBatch(bytes, '000001.wal'), /CORRUPTION|range delete whose start is not below its end/);
  }
  const bytes = encodeBatch(1, [{ kind: ValueKind.Put, key: utf8('a'), value: utf8('b') }]);
  bytes[12] = 3;
  assert.throws(() => decodeBatch(bytes, '000001.wal'), /op 0 has unknown kind 3/);
});
