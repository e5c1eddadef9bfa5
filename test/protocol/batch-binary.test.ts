/**
 * The binary POST /batch body and multi-get answer (protocol/batch-binary.ts): round trips,
 * the worked example of docs/formats/batch.md, and hostile bodies, each refused whole with a
 * stable code and a message naming what was wrong.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBinaryBatch, decodeBinaryMultiGet, encodeBinaryBatch, encodeBinaryGetBatch, encodeBinaryMultiGet } from '../../protocol/batch-binary.ts';
import type { BatchOp } from '../../protocol/batch-codec.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { DEFAULT_LIMITS, KEY_BYTES_MAX } from '../../protocol/limits.ts';
import { exampleHexInDoc } from '../helpers/doc-example.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const hex = (h: string) => Uint8Array.from(Buffer.from(h.replaceAll(' ', ''), 'hex'));
const doc = new URL('../../docs/formats/batch.md', import.meta.url);

/** The error `fn` throws, as `CODE: message`. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ClusterError, String(error));
    return `${error.code}: ${error.message}`;
  }
  return 'no error';
}

const decode = (body: Uint8Array, limits = DEFAULT_LIMITS) => decodeBinaryBatch(body, limits);

describe('binary batch', () => {
  it('round-trips writes and gets, keys and values of any bytes, duplicates kept', () => {
    const ops: BatchOp[] = [
      { type: 'put', key: new Uint8Array([0xff, 0]), value: new Uint8Array([0, 0xfe]) },
      { type: 'del', key: bytes('d') },
      { type: 'put', key: bytes('e'), value: new Uint8Array(0) },
    ];
    assert.deepEqual(decode(encodeBinaryBatch(ops)), { kind: 'write', ops });
    const keys = [new Uint8Array([0xff]), bytes('a'), new Uint8Array([0xff])];
    assert.deepEqual(decode(encodeBinaryGetBatch(keys)), { kind: 'read', keys, answer: 'binary' });
  });

  it('is the bytes of the worked example in docs/formats/batch.md', () => {
    const ops: BatchOp[] = [{ type: 'put', key: bytes('user:1'), value: bytes('ada') }, { type: 'del', key: bytes('user:2') }];
    assert.equal(Buffer.from(encodeBinaryBatch(ops)).toString('hex'), exampleHexInDoc(doc, 'batch-example'));
    assert.equal(Buffer.from(encodeBinaryGetBatch([bytes('user:1'), bytes('user:2')])).toString('hex'), exampleHexInDoc(doc, 'get-batch-example'));
    assert.equal(Buffer.from(encodeBinaryMultiGet([bytes('ada'), undefined])).toString('hex'), exampleHexInDoc(doc, 'answer-example'));
  });

  it('refuses every cut-short body with BAD_BATCH, whatever byte it ends at', () => {
    const whole = encodeBinaryBatch([{ type: 'put', key: bytes('k1'), value: bytes('value') }, { type: 'del', key: bytes('k2') }]);
    for (let length = 0; length < whole.length; length++) {
      assert.match(refusal(() => decode(whole.subarray(0, length))), /^BAD_BATCH: binary batch (is \d+ bytes, shorter than its 8-byte header|declares 2 operations, more than|is cut short in operation [01] \(byte \d+ of \d+\))/, `cut at ${length}`);
    }
  });

  it('refuses a wrong count, trailing bytes, a bad magic, an unknown type and a mixed batch', () => {
    const one = encodeBinaryBatch([{ type: 'del', key: bytes('k1') }, { type: 'del', key: bytes('k2') }]);
    const withCount = (count: number) => Uint8Array.from(one, (b, i) => (i === 7 ? count : b));
    assert.equal(refusal(() => decode(withCount(1))), 'BAD_BATCH: binary batch has 5 bytes after its last operation (byte 13); its count says how many operations it holds');
    assert.equal(refusal(() => decode(withCount(3))), 'BAD_BATCH: binary batch is cut short in operation 2 (byte 18 of 18); its count or a length is wrong');
    assert.equal(refusal(() => decode(withCount(0))), 'BAD_BATCH: binary batch holds 0 operations; a batch needs at least one');
    assert.equal(refusal(() => decode(Uint8Array.of(...one, 0))), 'BAD_BATCH: binary batch has 1 bytes after its last operation (byte 18); its count says how many operations it holds');
    assert.equal(refusal(() => decode(bytes('{"ops":[{"type":"get","key":"a"}]}'))), 'BAD_BATCH: binary batch does not start with "DKB1" (docs/formats/batch.md)');
    assert.equal(refusal(() => decode(Uint8Array.from(one, (b, i) => (i === 8 ? 7 : b)))), 'BAD_BATCH: operation 0 has type 0x07 (byte 8); types are 0x01 put, 0x02 del, 0x03 get');
    const mixed = Uint8Array.of(...encodeBinaryGetBatch([bytes('a'), bytes('b')]));
    mixed[12] = 0x02;
    assert.equal(refusal(() => decode(mixed)), 'BAD_BATCH: operation 1 is a "del" in a batch of gets; a batch is all gets or all puts and dels');
  });

  it('refuses a get among writes rather than reading it as another put', () => {
    // put "A" = "x", then a get of "B": with the get let through as a write it would decode as a second put.
    assert.equal(refusal(() => decode(hex('444b4231 00000002 01000141 00000001 78 03000142 00000000'))), 'BAD_BATCH: operation 1 is a "get" in a batch of writes; a batch is all gets or all puts and dels');
  });

  it('refuses a batch of gets whose count runs past its last whole operation with BAD_BATCH, not a TypeError', () => {
    // Three whole gets and a count of 4: the count check passes (4 × 3 bytes fit in 12), the fourth op starts at the end.
    assert.equal(refusal(() => decode(hex('444b4231 00000004 03000141 03000142 03000143'))), 'BAD_BATCH: binary batch is cut short in operation 3 (byte 20 of 20); its count or a length is wrong');
  });

  it('refuses every cut-short batch of gets with BAD_BATCH, whatever byte it ends at', () => {
    const whole = encodeBinaryGetBatch([bytes('k1'), bytes('key2'), bytes('k3')]);
    for (let length = 0; length < whole.length; length++) {
      assert.match(refusal(() => decode(whole.subarray(0, length))), /^BAD_BATCH: binary batch (is \d+ bytes, shorter than its 8-byte header|declares 3 operations, more than|is cut short in operation [012] \(byte \d+ of \d+\))/, `cut at ${length}`);
    }
  });

  it('refuses a count its body cannot hold before reading any operation', () => {
    // One whole get and a count of 3: read op by op it would be "cut short in operation 1"; the count check names the count.
    assert.equal(refusal(() => decode(hex('444b4231 00000003 03000141'))), 'BAD_BATCH: binary batch declares 3 operations, more than its 12 bytes can hold');
    assert.equal(refusal(() => decode(hex('444b4231 00000002 02000141'))), 'BAD_BATCH: binary batch declares 2 operations, more than its 12 bytes can hold');
  });

  it('refuses a count over batch_ops_max before reading an operation', () => {
    const limits = { ...DEFAULT_LIMITS, batchOpsMax: 2 };
    const three = encodeBinaryBatch([1, 2, 3].map((i) => ({ type: 'del' as const, key: bytes(`k${i}`) })));
    assert.equal(refusal(() => decode(three, limits)), 'BAD_BATCH: binary batch declares 3 operations; a batch holds at most 2');
    const huge = Uint8Array.of(0x44, 0x4b, 0x42, 0x31, 0xff, 0xff, 0xff, 0xff);
    assert.equal(refusal(() => decode(huge)), `BAD_BATCH: binary batch declares 4294967295 operations; a batch holds at most ${DEFAULT_LIMITS.batchOpsMax}`);
  });

  it('refuses an empty key, a key over KEY_BYTES_MAX and a value over value_bytes_max with their codes', () => {
    const del = (keyLength: number) => Uint8Array.of(0x44, 0x4b, 0x42, 0x31, 0, 0, 0, 1, 0x02, keyLength >> 8, keyLength & 0xff, ...new Uint8Array(keyLength));
    assert.equal(refusal(() => decode(del(0))), `EMPTY_KEY: operation 0's key is empty (byte 9); keys are 1-${KEY_BYTES_MAX} bytes`);
    assert.equal(refusal(() => decode(del(KEY_BYTES_MAX + 1))), `KEY_TOO_LARGE: operation 0's key is ${KEY_BYTES_MAX + 1} bytes (byte 9); keys are at most ${KEY_BYTES_MAX} bytes`);
    const limits = { ...DEFAULT_LIMITS, valueBytesMax: 4 };
    const put = encodeBinaryBatch([{ type: 'put', key: bytes('k'), value: bytes('12345') }]);
    assert.equal(refusal(() => decode(put, limits)), 'VALUE_TOO_LARGE: operation 0\'s value is 5 bytes (byte 12); values are at most 4 bytes');
    // A value length past the body, not a huge allocation.
    const lying = Uint8Array.of(...put.subarray(0, 12), 0x7f, 0xff, 0xff, 0xff, 1);
    assert.equal(refusal(() => decode(lying, { ...DEFAULT_LIMITS, valueBytesMax: 2 ** 31 })), 'BAD_BATCH: binary batch is cut short in operation 0 (byte 12 of 17); its count or a length is wrong');
  });

  it('will not encode a key the format or the node would refuse', () => {
    assert.match(refusal(() => encodeBinaryBatch([{ type: 'del', key: new Uint8Array(70_000) }])), /^KEY_TOO_LARGE/);
    assert.match(refusal(() => encodeBinaryGetBatch([new Uint8Array(0)])), /^EMPTY_KEY/);
  });

  it('decodes any bytes as a batch or refuses them with a ClusterError', () => {
    const valid = fc.array(fc.record({ key: fc.uint8Array({ minLength: 1, maxLength: 20 }), value: fc.uint8Array({ maxLength: 20 }) }), { minLength: 1, maxLength: 5 })
      .map((ops) => encodeBinaryBatch(ops.map(({ key, value }) => ({ type: 'put' as const, key, value }))));
    // Valid bodies with a byte changed or cut, and plain noise after a good magic.
    const damaged = fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([body, at, value, cut]) => {
      const copy = Uint8Array.from(body);
      if (cut) return copy.subarray(0, at % copy.length);
      copy[at % copy.length] = value;
      return copy;
    });
    const gets = fc.array(fc.uint8Array({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 5 }).map((keys) => encodeBinaryGetBatch(keys));
    const damagedGets = fc.tuple(gets, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([body, at, value, cut]) => {
      const copy = Uint8Array.from(body);
      if (cut) return copy.subarray(0, at % copy.length);
      copy[at % copy.length] = value;
      return copy;
    });
    const noise = fc.uint8Array().map((tail) => Uint8Array.of(0x44, 0x4b, 0x42, 0x31, ...tail));
    // Noise of get-shaped ops ("03" type bytes) under a count that may run past them.
    const getNoise = fc.tuple(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 6 }))
      .map(([count, lengths]) => Uint8Array.of(0x44, 0x4b, 0x42, 0x31, 0, 0, 0, count, ...lengths.flatMap((n) => [0x03, 0, n, ...new Array<number>(n).fill(0x61)])));
    fc.assert(fc.property(fc.oneof(damaged, damagedGets, noise, getNoise, fc.uint8Array()), (body) => {
      try {
        decode(body);
      } catch (error) {
        if (!(error instanceof ClusterError)) throw error;
      }
    }), { numRuns: 3000 });
  });
});

describe('binary multi-get answer', () => {
  it('round-trips values and missing keys', () => {
    const values = [bytes('a'), undefined, new Uint8Array(0), new Uint8Array([0xff])];
    assert.deepEqual(decodeBinaryMultiGet(encodeBinaryMultiGet(values), 4), values);
  });

  it('refuses an answer of the wrong count, cut short or with bytes after it', () => {
    const answer = encodeBinaryMultiGet([bytes('abc'), undefined]);
    assert.match(refusal(() => decodeBinaryMultiGet(answer, 3)), /^BAD_REQUEST: binary multi-get answer must start with "DKM1" and a count of 3/);
    for (let length = 0; length < answer.length; length++) assert.match(refusal(() => decodeBinaryMultiGet(answer.subarray(0, length), 2)), /^BAD_REQUEST/);
    assert.match(refusal(() => decodeBinaryMultiGet(Uint8Array.of(...answer, 0), 2)), /^BAD_REQUEST: binary multi-get answer has 1 bytes after its last value/);
    assert.match(refusal(() => decodeBinaryMultiGet(hex('444b4d31 00000001 00000009 61'), 1)), /^BAD_REQUEST: binary multi-get answer is cut short in value 0/);
  });
});
