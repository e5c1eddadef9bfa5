/**
 * The batch frame (frame-format.ts), the one the leader sends for every engine write group,
 * written and read without msgpackr: the bytes are msgpackr's exactly (a map16 of the five
 * fields in order, fixstr keys, unsigned integers in msgpackr's widths, float64 past
 * 2^32 - 1, the batch as bin8/16/32), so the format, its version and docs/replication.md's
 * worked example are unchanged; test/replication/frame-format.test.ts compares the bytes over
 * every integer and bin width boundary. docs/decisions.md has the measurements. Pure.
 */
import type { Frame } from './frame-format.ts';

const encoder = new TextEncoder();

// A batch frame's payload, as msgpackr writes it: a map16 of five fields in this order, keys as
// fixstr, unsigned integers in their smallest form (float64 past 2^32 - 1), the batch as bin.
const BATCH_MAP_HEAD = Uint8Array.from([0xde, 0x00, 0x05, 0xa4, ...encoder.encode('type'), 0xa5, ...encoder.encode('batch'), 0xa4, ...encoder.encode('term')]);
const FIRST_KEY = Uint8Array.from([0xa5, ...encoder.encode('first')]);
const LAST_KEY = Uint8Array.from([0xa4, ...encoder.encode('last')]);
const BATCH_KEY = Uint8Array.from([0xa5, ...encoder.encode('batch')]);

type BatchFrame = Extract<Frame, { type: 'batch' }>;

/** Bytes of a batch frame's payload (after the frame header). */
export function batchPayloadBytes(frame: BatchFrame): number {
  const { term, first, last, batch } = frame;
  return BATCH_MAP_HEAD.length + uintBytes(term) + FIRST_KEY.length + uintBytes(first) + LAST_KEY.length + uintBytes(last) + BATCH_KEY.length + binHeadBytes(batch.length) + batch.length;
}

/**
 * Writes a batch frame's payload into `out` at `at`, `batchPayloadBytes(frame)` bytes: every
 * write group is one batch frame, so it goes straight into the frame's own buffer, with no
 * msgpackr call and no copy of the payload out of msgpackr's buffer.
 */
export function writeBatchPayload(out: Uint8Array, at: number, frame: BatchFrame): void {
  const { term, first, last, batch } = frame;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(BATCH_MAP_HEAD, at);
  at = writeUint(view, at + BATCH_MAP_HEAD.length, term);
  out.set(FIRST_KEY, at);
  at = writeUint(view, at + FIRST_KEY.length, first);
  out.set(LAST_KEY, at);
  at = writeUint(view, at + LAST_KEY.length, last);
  out.set(BATCH_KEY, at);
  at += BATCH_KEY.length;
  // bin8, bin16, bin32: a type byte, then the length big-endian.
  const head = binHeadBytes(batch.length);
  if (head === 2) view.setUint8(at + 1, batch.length);
  else if (head === 3) view.setUint16(at + 1, batch.length);
  else view.setUint32(at + 1, batch.length);
  view.setUint8(at, head === 2 ? 0xc4 : head === 3 ? 0xc5 : 0xc6);
  out.set(batch, at + head);
}

function binHeadBytes(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

/** Bytes msgpackr takes for a non-negative integer `n`. */
function uintBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= 0xffffffff ? 5 : 9;
}

/** Writes `n` as msgpackr does at `at`: positive fixint, uint8, uint16, uint32, else float64. Returns where the next field starts. */
function writeUint(view: DataView, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`frame format: a batch frame's term and sequence numbers are non-negative safe integers, got ${n}`);
  const size = uintBytes(n);
  if (size === 1) view.setUint8(at, n);
  else if (size === 2) view.setUint8(at + 1, n);
  else if (size === 3) view.setUint16(at + 1, n);
  else if (size === 5) view.setUint32(at + 1, n);
  else view.setFloat64(at + 1, n);
  if (size > 1) view.setUint8(at, UINT_TYPE_BYTE[size]!);
  return at + size;
}

/** The msgpack type byte of an unsigned integer of each encoded size (uint8, uint16, uint32, float64). */
const UINT_TYPE_BYTE: Readonly<Record<number, number>> = { 2: 0xcc, 3: 0xcd, 5: 0xce, 9: 0xcb };

/**
 * A batch frame's payload laid out exactly as `writeBatchPayload` writes it, read without msgpackr (every
 * write group is one): the fields as plain values, the batch a Buffer view of the payload, as
 * msgpackr hands back. Anything else, or anything cut short, is undefined and takes the general
 * path (shape bound, msgpackr); either way `checkFrame` checks the values.
 */
export function decodeBatchPayload(payload: Uint8Array): Record<string, unknown> | undefined {
  if (!startsWith(payload, 0, BATCH_MAP_HEAD)) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const term = readUint(view, BATCH_MAP_HEAD.length);
  if (!term || !startsWith(payload, term.next, FIRST_KEY)) return undefined;
  const first = readUint(view, term.next + FIRST_KEY.length);
  if (!first || !startsWith(payload, first.next, LAST_KEY)) return undefined;
  const last = readUint(view, first.next + LAST_KEY.length);
  if (!last || !startsWith(payload, last.next, BATCH_KEY)) return undefined;
  const at = last.next + BATCH_KEY.length;
  if (at + 5 > payload.length) return undefined;
  const type = view.getUint8(at);
  const head = type === 0xc4 ? 2 : type === 0xc5 ? 3 : type === 0xc6 ? 5 : 0;
  if (head === 0) return undefined;
  const length = head === 2 ? view.getUint8(at + 1) : head === 3 ? view.getUint16(at + 1) : view.getUint32(at + 1);
  if (at + head + length !== payload.length) return undefined;
  const batch = Buffer.from(payload.buffer, payload.byteOffset + at + head, length);
  return { type: 'batch', term: term.value, first: first.value, last: last.value, batch };
}

function startsWith(bytes: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

/** An unsigned integer as `writeUint` writes it at `at`, or undefined for another type byte or a cut. */
function readUint(view: DataView, at: number): { value: number; next: number } | undefined {
  if (at >= view.byteLength) return undefined;
  const type = view.getUint8(at);
  if (type < 0x80) return { value: type, next: at + 1 };
  const size = type === 0xcc ? 2 : type === 0xcd ? 3 : type === 0xce ? 5 : type === 0xcb ? 9 : 0;
  if (size === 0 || at + size > view.byteLength) return undefined;
  const value = size === 2 ? view.getUint8(at + 1) : size === 3 ? view.getUint16(at + 1) : size === 5 ? view.getUint32(at + 1) : view.getFloat64(at + 1);
  return { value, next: at + size };
}

