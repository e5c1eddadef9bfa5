/**
 * The write batch: the unit of atomicity, of group commit and of replication. One WAL record
 * holds one encoded batch. This layout is on disk (WAL) and on the wire (replication); its
 * description, with a worked example, is in docs/formats/wal.md.
 *
 *   batch := seq:u64le count:u32le op{count}
 *   op    := kind:u8 key_len:varint key [value_len:varint value]   (no value when kind = Delete)
 *   kind  := 0 delete | 1 put | 2 range delete (key = start, value = end, start < end)
 *
 * The ops take sequence numbers seq, seq+1, …, seq+count-1 in order, so a later op on the
 * same key within one batch wins. Kind 2 is batch format version 2; a version 1 batch (kinds
 * 0 and 1 only) reads unchanged.
 */
import { CorruptionError } from './errors.ts';
import { ValueKind } from './internal-key.ts';
import { compareBytes } from './util/bytes.ts';
import { readUint64, readVarint, varintLength, writeUint64, writeVarint, type VarintRead } from './util/varint.ts';

export const BATCH_HEADER_BYTES = 12;

export interface BatchOp {
  kind: ValueKind;
  /** A range delete's start. */
  key: Uint8Array;
  /** Empty for deletes; a range delete's end. */
  value: Uint8Array;
}

/** Whether ops of this kind carry a value (a put's value, a range delete's end). */
function hasValue(kind: number): boolean {
  return kind !== ValueKind.Delete;
}

export interface DecodedBatch {
  seq: number;
  ops: BatchOp[];
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** Bytes `ops` take once encoded. */
export function encodedBatchBytes(ops: readonly BatchOp[]): number {
  let total = BATCH_HEADER_BYTES;
  for (const op of ops) {
    total += 1 + varintLength(op.key.length) + op.key.length;
    if (hasValue(op.kind)) total += varintLength(op.value.length) + op.value.length;
  }
  return total;
}

/** Encodes one batch whose first op takes sequence number `seq`. */
export function encodeBatch(seq: number, ops: readonly BatchOp[]): Uint8Array {
  const out = new Uint8Array(encodedBatchBytes(ops));
  encodeBatchInto(out, 0, seq, ops);
  return out;
}

/** Encodes a batch into `out` at `offset`; returns the offset after it. */
export function encodeBatchInto(out: Uint8Array, offset: number, seq: number, ops: readonly BatchOp[]): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  writeUint64(view, offset, seq);
  view.setUint32(offset + 8, ops.length, true);
  let at = offset + BATCH_HEADER_BYTES;
  for (const op of ops) {
    out[at++] = op.kind;
    at = writeVarint(out, at, op.key.length);
    out.set(op.key, at);
    at += op.key.length;
    if (hasValue(op.kind)) {
      at = writeVarint(out, at, op.value.length);
      out.set(op.value, at);
      at += op.value.length;
    }
  }
  return at;
}

/**
 * Called for each op of a batch being walked: where its key and value lie in the batch's
 * bytes (a delete's value is empty; a range delete's is its end key). Offsets, not views, so walking allocates nothing.
 */
export type BatchOpVisitor = (seq: number, kind: ValueKind, keyAt: number, keyLength: number, valueAt: number, valueLength: number) => void;

/**
 * Walks a batch's ops in order; returns its first sequence number. Malformed bytes (which a
 * passing checksum makes unlikely, but a bug in a writer could produce) are a CorruptionError
 * naming `fileName`; ops before the malformed one have been visited by then.
 */
export function walkBatch(bytes: Uint8Array, fileName: string, visit: BatchOpVisitor): number {
  const fail = (why: string): never => {
    throw new CorruptionError(`write batch: ${why}`, { file: fileName });
  };
  if (bytes.length < BATCH_HEADER_BYTES) fail(`${bytes.length} bytes is shorter than the header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = readUint64(view, 0);
  if (!Number.isSafeInteger(seq)) fail('sequence number beyond 2^53');
  const count = view.getUint32(8, true);
  const read = varintScratch;
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at >= bytes.length) fail(`op ${i} of ${count} missing`);
    const kind = bytes[at++]!;
    if (kind > ValueKind.RangeDelete) fail(`op ${i} has unknown kind ${kind}`);
    readVarint(bytes, at, read);
    if (read.offset < 0 || read.offset + read.value > bytes.length) fail(`op ${i} key length out of range`);
    const keyAt = read.offset;
    const keyLength = read.value;
    at = keyAt + keyLength;
    let valueAt = at;
    let valueLength = 0;
    if (hasValue(kind)) {
      readVarint(bytes, at, read);
      if (read.offset < 0 || read.offset + read.value > bytes.length) fail(`op ${i} value length out of range`);
      valueAt = read.offset;
      valueLength = read.value;
      at = valueAt + valueLength;
    }
    if (kind === ValueKind.RangeDelete && compareBytes(bytes.subarray(keyAt, keyAt + keyLength), bytes.subarray(valueAt, valueAt + valueLength)) >= 0) {
      fail(`op ${i} is a range delete whose start is not below its end`);
    }
    visit(seq + i, kind as ValueKind, keyAt, keyLength, valueAt, valueLength);
  }
  if (at !== bytes.length) fail(`${bytes.length - at} trailing bytes after ${count} ops`);
  return seq;
}

/** Walking is synchronous and never nested, so one scratch serves every walk. */
const varintScratch: VarintRead = { value: 0, offset: 0 };

/** Decodes a batch (see walkBatch for errors). Keys and values are views into `bytes`. */
export function decodeBatch(bytes: Uint8Array, fileName: string): DecodedBatch {
  const ops: BatchOp[] = [];
  const seq = walkBatch(bytes, fileName, (_seq, kind, keyAt, keyLength, valueAt, valueLength) => {
    ops.push({ kind, key: bytes.subarray(keyAt, keyAt + keyLength), value: valueLength === 0 ? EMPTY : bytes.subarray(valueAt, valueAt + valueLength) });
  });
  return { seq, ops };
}
