import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BLOCK_BYTES, HEADER_BYTES } from '../../engine/log/log-format.ts';
import { LogReader } from '../../engine/log/log-reader.ts';
import { LogWriter } from '../../engine/log/log-writer.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';

function record(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

function writeLog(payloads: Uint8Array[]): Uint8Array {
  const writer = new LogWriter(0);
  const parts = payloads.map((p) => writer.frame(p));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function readAll(bytes: Uint8Array, options = {}) {
  const reader = new LogReader(bytes, 'test.log', options);
  const records: Uint8Array[] = [];
  for (let r = reader.next(); r !== undefined; r = reader.next()) records.push(r);
  return { records, reader };
}

// Sizes that hit every fragment type and every block-boundary case.
const SIZES = [0, 1, 100, BLOCK_BYTES - HEADER_BYTES, BLOCK_BYTES - HEADER_BYTES - 3, BLOCK_BYTES, 3 * BLOCK_BYTES + 17, 5, 70_000];

test('records of every size round-trip through the log format, across block boundaries', () => {
  const payloads = SIZES.map((n, i) => record(n, i + 1));
  const { records, reader } = readAll(writeLog(payloads));
  assert.equal(records.length, payloads.length);
  records.forEach((r, i) => assert.deepEqual(r, payloads[i]));
  assert.equal(reader.droppedBytes, 0);
});

test('a block with fewer than 7 bytes left is padded with a zero trailer', () => {
  const first = record(BLOCK_BYTES - HEADER_BYTES - 4, 7);
  const bytes = writeLog([first, record(10, 8)]);
  assert.deepEqual([...bytes.subarray(BLOCK_BYTES - 4, BLOCK_BYTES)], [0, 0, 0, 0]);
  assert.equal(bytes.length, BLOCK_BYTES + HEADER_BYTES + 10);
  assert.equal(readAll(bytes).records.length, 2);
});

test('the header holds crc32c over type and payload, the length and the type', () => {
  const bytes = writeLog([new TextEncoder().encode('hi')]);
  // crc32c(0x01 'h' 'i') computed independently of the writer.
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint16(4, true), 2);
  assert.equal(bytes[6], 1);
  assert.equal(bytes.length, 9);
  const { records } = readAll(bytes);
  assert.equal(new TextDecoder().decode(records[0]), 'hi');
});

test('every truncation drops only a torn tail and returns a prefix of the records', () => {
  const payloads = [record(10, 1), record(40_000, 2), record(300, 3), record(BLOCK_BYTES, 4), record(1, 5)];
  const full = writeLog(payloads);
  const random = seededRandom(7);
  const cuts = new Set<number>([0, 1, 6, 7, 8, full.length - 1]);
  while (cuts.size < 300) cuts.add(Math.floor(random() * full.length));
  for (const cut of cuts) {
    const { records, reader } = readAll(full.subarray(0, cut));
    records.forEach((r, i) => assert.deepEqual(r, payloads[i], `cut ${cut}: record ${i} differs`));
    assert.equal(reader.validBytes + reader.droppedBytes <= cut, true);
    // Whatever was complete before the cut is kept.
    const complete = payloads.filter((_, i) => writeLog(payloads.slice(0, i + 1)).length <= cut).length;
    assert.equal(records.length, complete, `cut ${cut}`);
  }
});

test('a byte flip is corruption, or a dropped tail in the final record, never wrong data', () => {
  const payloads = [record(10, 1), record(40_000, 2), record(300, 3), record(2000, 4)];
  const full = writeLog(payloads);
  const random = seededRandom(11);
  let corruptions = 0;
  let tails = 0;
  for (let i = 0; i < 400; i++) {
    const at = i < 40 ? i : Math.floor(random() * full.length);
    const bytes = full.slice();
    bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
    try {
      const { records, reader } = readAll(bytes);
      records.forEach((r, j) => assert.deepEqual(r, payloads[j], `flip at ${at}: record ${j} is wrong data`));
      assert.ok(records.length === payloads.length || reader.droppedBytes > 0, `flip at ${at}: records lost silently`);
      if (records.length < payloads.length) {
        tails++;
        // Only the final record may be dropped as a tail.
        assert.equal(records.length, payloads.length - 1, `flip at ${at}: more than the last record dropped`);
      }
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'CORRUPTION', `flip at ${at}: ${String(err)}`);
      assert.match(String(err), /test\.log/);
      corruptions++;
    }
  }
  assert.ok(corruptions > 0 && tails > 0, `corruptions ${corruptions}, tails ${tails}`);
});

test('a corrupted length field that makes a middle record look torn is still corruption', () => {
  const payloads = [record(100, 1), record(100, 2), record(100, 3)];
  const bytes = writeLog(payloads);
  // Inflate the first record's length so it seems to run past its data (but stays in the block).
  new DataView(bytes.buffer).setUint16(4, 2000, true);
  assert.throws(() => readAll(bytes), { code: 'CORRUPTION' });
});

test('with skipCorruption a damaged block is skipped and counted, later blocks still read', () => {
  const payloads = [record(BLOCK_BYTES - HEADER_BYTES, 1), record(100, 2), record(BLOCK_BYTES - HEADER_BYTES - 107 - 100, 3), record(50, 4)];
  const bytes = writeLog(payloads);
  bytes[HEADER_BYTES + 5] = bytes[HEADER_BYTES + 5]! ^ 0xff; // inside the first record, in block 0
  const { records, reader } = readAll(bytes, { skipCorruption: true });
  assert.ok(reader.skippedBytes > 0);
  assert.ok(records.length >= 1);
  assert.deepEqual(records[records.length - 1], payloads[payloads.length - 1]);
});
