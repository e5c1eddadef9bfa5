/**
 * The POST /batch body in binary (`Content-Type: application/octet-stream`), beside the JSON
 * one of batch-codec.ts: the same operations and the same checks, without JSON.parse, base64 or
 * a string per field. Keys and values are views into the body, not copies (the engine copies
 * every key and value into its own batch before a write resolves). A binary batch of gets is
 * answered in binary too. docs/formats/batch.md has the byte layout and a worked example.
 *
 *   batch   = magic "DKB1" | count u32 | op{count}          (nothing after the last op)
 *   op      = 0x01 put | key | value_len u32 | value
 *           | 0x02 del | key
 *           | 0x03 get | key
 *   key     = key_len u16 | key bytes                        (1..KEY_BYTES_MAX)
 *
 *   answer  = magic "DKM1" | count u32 | (value_len u32 | value){count}
 *             value_len 0xffffffff: the key has no value (no bytes follow)
 *
 * Integers are big-endian. A body is refused whole (BAD_BATCH naming the operation and the byte
 * offset; EMPTY_KEY, KEY_TOO_LARGE, VALUE_TOO_LARGE as in JSON) before anything is written.
 *
 * Pure: bytes in, decoded operations out (or a ClusterError); and the encoders the client uses.
 */
import type { BatchOp, DecodedBatch } from './batch-codec.ts';
import { ClusterError } from './errors.ts';
import { KEY_BYTES_MAX, type Limits } from './limits.ts';

/** The Content-Type of a binary batch and of its answer. */
export const BINARY_BATCH_MEDIA_TYPE = 'application/octet-stream';

/** A Content-Type header's media type, lower case, without parameters (`; charset=...`). */
export function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';', 1)[0]!.trim().toLowerCase();
}

/** "DKB1": a binary batch, format version 1. */
const BATCH_MAGIC = 0x444b4231;
/** "DKM1": a binary multi-get answer, format version 1. */
const ANSWER_MAGIC = 0x444b4d31;
const HEADER_BYTES = 8;
const OP_PUT = 0x01;
const OP_DEL = 0x02;
const OP_GET = 0x03;
/** A value length saying the key has no value. */
const NO_VALUE = 0xffffffff;
/** Type and key length: the least an operation takes (a key of length 0 is then EMPTY_KEY, not this). */
const OP_BYTES_MIN = 3;

const OP_NAMES: Record<number, 'put' | 'del' | 'get'> = { [OP_PUT]: 'put', [OP_DEL]: 'del', [OP_GET]: 'get' };

/** Decodes and checks a binary batch body. Throws BAD_BATCH, EMPTY_KEY, KEY_TOO_LARGE or VALUE_TOO_LARGE. */
export function decodeBinaryBatch(body: Uint8Array, limits: Readonly<Limits>): DecodedBatch {
  if (body.length < HEADER_BYTES) throw badBatch(`binary batch is ${body.length} bytes, shorter than its 8-byte header`);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (view.getUint32(0) !== BATCH_MAGIC) throw badBatch('binary batch does not start with "DKB1" (docs/formats/batch.md)');
  const count = view.getUint32(4);
  if (count === 0) throw badBatch('binary batch holds 0 operations; a batch needs at least one');
  if (count > limits.batchOpsMax) throw badBatch(`binary batch declares ${count} operations; a batch holds at most ${limits.batchOpsMax}`);
  if (count > (body.length - HEADER_BYTES) / OP_BYTES_MIN) throw badBatch(`binary batch declares ${count} operations, more than its ${body.length} bytes can hold`);
  const reads = body[HEADER_BYTES] === OP_GET;
  return reads ? { kind: 'read', keys: readKeys(body, view, count), answer: 'binary' } : { kind: 'write', ops: readWrites(body, view, count, limits) };
}

/** Reads one key at `at` (its length, then its bytes); returns the key, or throws naming op `i`. */
function readKey(body: Uint8Array, view: DataView, at: number, i: number): Uint8Array {
  if (at + 2 > body.length) throw truncated(i, at, body.length);
  const length = view.getUint16(at);
  if (length === 0) throw new ClusterError('EMPTY_KEY', `operation ${i}'s key is empty (byte ${at}); keys are 1-${KEY_BYTES_MAX} bytes`);
  if (length > KEY_BYTES_MAX) throw new ClusterError('KEY_TOO_LARGE', `operation ${i}'s key is ${length} bytes (byte ${at}); keys are at most ${KEY_BYTES_MAX} bytes`);
  if (at + 2 + length > body.length) throw truncated(i, at, body.length);
  return body.subarray(at + 2, at + 2 + length);
}

function readKeys(body: Uint8Array, view: DataView, count: number): Uint8Array[] {
  const keys = new Array<Uint8Array>(count);
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at >= body.length) throw truncated(i, at, body.length);
    if (body[at] !== OP_GET) throw mixedOrUnknown(body[at]!, i, at, true);
    const key = readKey(body, view, at + 1, i);
    keys[i] = key;
    at += 3 + key.length;
  }
  checkEnd(at, body.length);
  return keys;
}

function readWrites(body: Uint8Array, view: DataView, count: number, limits: Readonly<Limits>): BatchOp[] {
  const ops = new Array<BatchOp>(count);
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at >= body.length) throw truncated(i, at, body.length);
    const type = body[at]!;
    if (type !== OP_PUT && type !== OP_DEL) throw mixedOrUnknown(type, i, at, false);
    const key = readKey(body, view, at + 1, i);
    at += 3 + key.length;
    if (type === OP_DEL) {
      ops[i] = { type: 'del', key };
      continue;
    }
    if (at + 4 > body.length) throw truncated(i, at, body.length);
    const length = view.getUint32(at);
    if (length > limits.valueBytesMax) throw new ClusterError('VALUE_TOO_LARGE', `operation ${i}'s value is ${length} bytes (byte ${at}); values are at most ${limits.valueBytesMax} bytes`);
    if (at + 4 + length > body.length) throw truncated(i, at, body.length);
    ops[i] = { type: 'put', key, value: body.subarray(at + 4, at + 4 + length) };
    at += 4 + length;
  }
  checkEnd(at, body.length);
  return ops;
}

function checkEnd(at: number, length: number): void {
  if (at !== length) throw badBatch(`binary batch has ${length - at} bytes after its last operation (byte ${at}); its count says how many operations it holds`);
}

function truncated(i: number, at: number, length: number): ClusterError {
  return badBatch(`binary batch is cut short in operation ${i} (byte ${at} of ${length}); its count or a length is wrong`);
}

function mixedOrUnknown(type: number, i: number, at: number, reads: boolean): ClusterError {
  const name = OP_NAMES[type];
  if (name === undefined) return badBatch(`operation ${i} has type 0x${type.toString(16).padStart(2, '0')} (byte ${at}); types are 0x01 put, 0x02 del, 0x03 get`);
  return badBatch(`operation ${i} is a "${name}" in a batch of ${reads ? 'gets' : 'writes'}; a batch is all gets or all puts and dels`);
}

function badBatch(message: string): ClusterError {
  return new ClusterError('BAD_BATCH', message);
}

/** Encodes writes as a binary batch body. The caller has checked key and value sizes. */
export function encodeBinaryBatch(ops: readonly BatchOp[]): Uint8Array {
  let size = HEADER_BYTES;
  for (const op of ops) size += 3 + op.key.length + (op.type === 'put' ? 4 + op.value.length : 0);
  const out = new Uint8Array(size);
  const view = writeHeader(out, BATCH_MAGIC, ops.length);
  let at = HEADER_BYTES;
  for (const op of ops) {
    at = writeKey(out, view, at, op.type === 'put' ? OP_PUT : OP_DEL, op.key);
    if (op.type === 'put') at = writeValue(out, view, at, op.value);
  }
  return out;
}

/** Encodes a multi-get's keys as a binary batch body. */
export function encodeBinaryGetBatch(keys: readonly Uint8Array[]): Uint8Array {
  let size = HEADER_BYTES;
  for (const key of keys) size += 3 + key.length;
  const out = new Uint8Array(size);
  const view = writeHeader(out, BATCH_MAGIC, keys.length);
  let at = HEADER_BYTES;
  for (const key of keys) at = writeKey(out, view, at, OP_GET, key);
  return out;
}

/** The binary answer to a binary multi-get: each value in request order, or none. */
export function encodeBinaryMultiGet(values: readonly (Uint8Array | undefined)[]): Uint8Array {
  let size = HEADER_BYTES;
  for (const value of values) size += 4 + (value?.length ?? 0);
  const out = Buffer.allocUnsafe(size);
  const view = writeHeader(out, ANSWER_MAGIC, values.length);
  let at = HEADER_BYTES;
  for (const value of values) {
    if (value === undefined) {
      view.setUint32(at, NO_VALUE);
      at += 4;
    } else {
      at = writeValue(out, view, at, value);
    }
  }
  return out;
}

/**
 * Decodes a binary multi-get answer of `count` values. Throws a ClusterError if it is not one;
 * the client (net/response.ts readMultiGetAnswer) reports that as its BAD_RESPONSE.
 */
export function decodeBinaryMultiGet(body: Uint8Array, count: number): (Uint8Array | undefined)[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < HEADER_BYTES || view.getUint32(0) !== ANSWER_MAGIC || view.getUint32(4) !== count) {
    throw badAnswer(`must start with "DKM1" and a count of ${count}`);
  }
  const values = new Array<Uint8Array | undefined>(count);
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + 4 > body.length) throw badAnswer(`is cut short at value ${i}`);
    const length = view.getUint32(at);
    at += 4;
    if (length === NO_VALUE) {
      values[i] = undefined;
      continue;
    }
    if (at + length > body.length) throw badAnswer(`is cut short in value ${i}`);
    // A copy, as a plain Uint8Array: a view would keep the whole answer alive for one value.
    values[i] = new Uint8Array(body.subarray(at, at + length));
    at += length;
  }
  if (at !== body.length) throw badAnswer(`has ${body.length - at} bytes after its last value`);
  return values;
}

function badAnswer(what: string): ClusterError {
  return new ClusterError('BAD_REQUEST', `binary multi-get answer ${what}`);
}

function writeHeader(out: Uint8Array, magic: number, count: number): DataView {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, magic);
  view.setUint32(4, count);
  return view;
}

function writeKey(out: Uint8Array, view: DataView, at: number, type: number, key: Uint8Array): number {
  // Checked here, not left to the node: a key past 65,535 bytes would wrap its u16 length.
  if (key.length === 0) throw new ClusterError('EMPTY_KEY', `a batch key is empty; keys are 1-${KEY_BYTES_MAX} bytes`);
  if (key.length > KEY_BYTES_MAX) throw new ClusterError('KEY_TOO_LARGE', `a batch key is ${key.length} bytes; keys are at most ${KEY_BYTES_MAX} bytes`);
  out[at] = type;
  view.setUint16(at + 1, key.length);
  out.set(key, at + 3);
  return at + 3 + key.length;
}

function writeValue(out: Uint8Array, view: DataView, at: number, value: Uint8Array): number {
  if (value.length >= NO_VALUE) throw new ClusterError('VALUE_TOO_LARGE', `a value is ${value.length} bytes; a binary batch carries under 4 GiB`);
  view.setUint32(at, value.length);
  out.set(value, at + 4);
  return at + 4 + value.length;
}
