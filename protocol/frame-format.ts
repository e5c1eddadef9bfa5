/**
 * The replication stream's wire format: what a leader sends down
 * `GET /internal/replication/stream`, and the pure encoder and decoder of it. The byte layout,
 * with a worked example, is in docs/replication.md ("The stream").
 *
 *   stream   := preamble frame*
 *   preamble := "DKVREPL" version:u8                      8 bytes; version = 2 (1 carried epochs)
 *   frame    := length:u32le checksum:u32le payload[length]
 *   checksum := crc32c(payload)                           Castagnoli, as in the WAL
 *   payload  := one msgpack map, a Frame below
 *
 * Every frame carries the leader's term, so a follower can refuse a deposed leader's frames
 * one by one; batch frames carry their first and last sequence numbers and the WAL encoding of
 * the batch (docs/formats/wal.md), applied by the follower with `Db.applyBatch`.
 *
 * Pure: no I/O. The decoder is incremental (chunks in, whole frames out) and copies each
 * frame's bytes at most once, however many chunks it arrived in. Before msgpack decodes a
 * payload, its structure is walked (headers only, payloads skipped) and checked against
 * `FrameShape`: the most maps, arrays and values a valid frame can hold (protocol/limits.ts).
 */
import { Packr } from 'msgpackr';
import { ClusterError } from './errors.ts';
import { crc32c } from './crc32c.ts';
import { batchPayloadBytes, decodeBatchPayload, writeBatchPayload } from './batch-frame.ts';
import { FRAME_CONTAINERS_MAX, FRAME_DEPTH_MAX, FRAME_VALUES_MAX, REPORT_INTERVAL_MS_MAX } from './limits.ts';

/** On the wire: the first 8 bytes of every stream. */
export const STREAM_MAGIC = 'DKVREPL';
/** On the wire: the stream format version, the preamble's last byte. */
export const STREAM_VERSION = 2;
export const PREAMBLE_BYTES = 8;
/** On the wire: length and checksum before each payload. */
export const FRAME_HEADER_BYTES = 8;

/**
 * One entry of a shard's term history: from `startSeq` + 1 on, the log was written under
 * `term`. Sent in every hello frame; replication/term-history.ts holds the rules.
 */
export interface TermEntry {
  readonly term: number;
  readonly startSeq: number;
}

export type Frame =
  /** First frame: who leads at which term, whether a snapshot or the log follows, and from where. */
  | { type: 'hello'; term: number; leader: string; plan: 'stream' | 'snapshot'; from: number; leaderSeq: number; history: TermEntry[] }
  /** One committed write group, ops at sequence numbers first..last. */
  | { type: 'batch'; term: number; first: number; last: number; batch: Uint8Array }
  /**
   * Sent when the stream is idle: the leader is alive, and its last sequence number. Also sent
   * to change how often the follower reports its position (`reportIntervalMs`: 0, after every
   * applied run; N, at most every N ms while it has applied something unreported; at most
   * REPORT_INTERVAL_MS_MAX, a frame over it is malformed). Absent: no
   * change; a follower starts every stream at 0. Version 2 followers that predate the field
   * ignore it and report after every run, as before.
   */
  | { type: 'heartbeat'; term: number; leaderSeq: number; reportIntervalMs?: number }
  /** A consistent copy of the leader's data at `seq` follows; the follower empties its own first. */
  | { type: 'snapshot-begin'; term: number; seq: number }
  /** Snapshot entries in key order, as key, value, key, value, … */
  | { type: 'snapshot-chunk'; term: number; entries: Uint8Array[] }
  /** The snapshot is complete: `count` entries at `seq`; the log resumes at seq + 1. */
  | { type: 'snapshot-end'; term: number; seq: number; count: number }
  /** Anti-entropy: the follower pins a snapshot here, exactly after applying `seq`. */
  | { type: 'checkpoint'; term: number; seq: number }
  /**
   * Migration streams (docs/resharding.md): the giver's ops on moving keys, in log order, up to
   * its sequence number `through`, each as [kind, key, value] (kind 1 put, 0 delete; value empty
   * for a delete). `ops` may be empty: the receiver then only learns how far it is.
   */
  | { type: 'moved'; term: number; through: number; ops: MovedOp[] }
  /** Migration streams: the giver takes no more writes to the moving keys; all of them are at or below `seq`. */
  | { type: 'fenced'; term: number; seq: number };

/** One op on a moving key: [kind (1 put, 0 delete), key, value]. */
export type MovedOp = [number, Uint8Array, Uint8Array];

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
const encoder = new TextEncoder();
const MAGIC_BYTES = Uint8Array.from([...encoder.encode(STREAM_MAGIC), STREAM_VERSION]);

/** The 8 bytes a stream starts with. */
export function encodePreamble(): Uint8Array {
  return MAGIC_BYTES.slice();
}

/** Frames one message: header (length, checksum) then the msgpack payload. */
export function encodeFrame(frame: Frame): Uint8Array {
  if (frame.type === 'batch') {
    // Every write group is one: written in place, the same bytes msgpackr would write (batch-frame.ts).
    const out = new Uint8Array(FRAME_HEADER_BYTES + batchPayloadBytes(frame));
    writeBatchPayload(out, FRAME_HEADER_BYTES, frame);
    return sealFrame(out);
  }
  const payload: Uint8Array = packr.pack(frame);
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return sealFrame(out);
}

/** Fills in the header of a frame whose payload is in place after it: length, then checksum. */
function sealFrame(out: Uint8Array): Uint8Array {
  const view = new DataView(out.buffer, out.byteOffset, FRAME_HEADER_BYTES);
  const payload = out.subarray(FRAME_HEADER_BYTES);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32c(payload), true);
  return out;
}

/** Bounds on one payload's msgpack structure, checked before it is decoded. */
export interface FrameShape {
  /** Maps and arrays. */
  readonly containersMax: number;
  /** Values of any kind, map keys included. */
  readonly valuesMax: number;
  /** Maps and arrays open at once. */
  readonly depthMax: number;
}

export const FRAME_SHAPE: FrameShape = Object.freeze({ containersMax: FRAME_CONTAINERS_MAX, valuesMax: FRAME_VALUES_MAX, depthMax: FRAME_DEPTH_MAX });

/**
 * Turns the bytes of a stream, in chunks of any size, into frames. Throws ClusterError
 * CORRUPTION on a bad preamble, an oversize length, a checksum mismatch, a payload whose
 * structure passes `shape`, or one that is not a well-formed Frame: a follower then drops the
 * connection and starts again from its own last sequence number, so nothing damaged is ever
 * applied.
 */
export class FrameDecoder {
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  private preambleSeen = false;

  constructor(private readonly frameBytesMax: number, private readonly shape: FrameShape = FRAME_SHAPE) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next whole frame, or undefined until more bytes arrive. */
  next(): Frame | undefined {
    if (!this.preambleSeen) {
      if (this.buffered < PREAMBLE_BYTES) return undefined;
      const preamble = this.take(PREAMBLE_BYTES);
      if (!preamble.every((b, i) => b === MAGIC_BYTES[i])) throw corrupt(`stream does not start with "${STREAM_MAGIC}" version ${STREAM_VERSION}: ${hex(preamble)}`);
      this.preambleSeen = true;
    }
    if (this.buffered < FRAME_HEADER_BYTES) return undefined;
    const header = this.peek(FRAME_HEADER_BYTES);
    const view = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES);
    const length = view.getUint32(0, true);
    if (length > this.frameBytesMax) throw corrupt(`frame length ${length} is over the ${this.frameBytesMax}-byte limit`);
    if (this.buffered < FRAME_HEADER_BYTES + length) return undefined;
    const expected = view.getUint32(4, true);
    this.take(FRAME_HEADER_BYTES);
    const payload = this.take(length);
    const actual = crc32c(payload);
    if (actual !== expected) throw corrupt(`frame checksum ${actual.toString(16)} does not match ${expected.toString(16)}`);
    const batch = decodeBatchPayload(payload);
    if (batch) return checkFrame(batch);
    const breach = shapeBreach(payload, this.shape);
    if (breach) throw corrupt(`frame payload of ${length} bytes ${breach}`);
    return decodePayload(payload);
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return concat(this.chunks, n);
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = concat(this.chunks, n);
      let left = n;
      while (left > 0) {
        const head = this.chunks[0]!;
        if (head.length <= left) {
          left -= head.length;
          this.chunks.shift();
        } else {
          this.chunks[0] = head.subarray(left);
          left = 0;
        }
      }
    }
    this.buffered -= n;
    return out;
  }
}

function concat(chunks: readonly Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, n - at);
    out.set(part, at);
    at += part.length;
    if (at === n) break;
  }
  return out;
}

/**
 * Walks a msgpack value's headers without decoding it; says how it breaks `shape` (or is not
 * msgpack a frame may hold: ext types, the unused 0xc1), or undefined if it fits. Work is
 * bounded by `shape.valuesMax`: every value read counts, and a container may not declare
 * more values than there are bytes left.
 */
export function shapeBreach(payload: Uint8Array, shape: FrameShape): string | undefined {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const head: Head = { next: 0, values: 0, container: false };
  // Values still to read in each open container, innermost last; the payload is one value.
  const open: number[] = [1];
  let values = 0;
  let containers = 0;
  while (open.length > 0) {
    if (open[open.length - 1] === 0) {
      open.pop();
      continue;
    }
    open[open.length - 1]!--;
    if (++values > shape.valuesMax) return `holds over ${shape.valuesMax} values`;
    const at = head.next;
    if (!readHead(view, head)) return `is not frame msgpack at offset ${at}`;
    if (head.container) {
      if (++containers > shape.containersMax) return `holds over ${shape.containersMax} maps and arrays`;
      if (open.length > shape.depthMax) return `nests deeper than ${shape.depthMax}`;
      if (head.values > payload.length - head.next) return `declares ${head.values} values in ${payload.length - head.next} bytes`;
      open.push(head.values);
    }
  }
  return head.next === payload.length ? undefined : `has ${payload.length - head.next} bytes after its value`;
}

/** One msgpack header, read in place (no allocation per value: a frame may hold a million). */
interface Head {
  /** Where the header starts, then the offset of the next value: past the header and, for strings and binaries, their bytes. */
  next: number;
  /** Values a map (keys and values) or an array holds. */
  values: number;
  container: boolean;
}

/** Bytes after the type byte that hold a length (strings, binaries, big containers) or a scalar's value. */
const enum Tail { None, Fixed, Length, Count }

/**
 * Reads the header at `head.next` into `head`; false for a type frames never hold (0xc1,
 * the ext types) or bytes that run out.
 */
function readHead(view: DataView, head: Head): boolean {
  const at = head.next;
  if (at >= view.byteLength) return false;
  const b = view.getUint8(at);
  head.container = false;
  head.values = 0;
  let tail = Tail.None;
  let size = 0;
  let perEntry = 1;
  if (b <= 0x7f || b >= 0xe0) tail = Tail.None; // fixint
  else if (b <= 0x8f) return container(head, at + 1, (b & 0x0f) * 2, view); // fixmap
  else if (b <= 0x9f) return container(head, at + 1, b & 0x0f, view); // fixarray
  else if (b <= 0xbf) [tail, size] = [Tail.Fixed, b & 0x1f]; // fixstr
  else {
    switch (b) {
      case 0xc0: case 0xc2: case 0xc3: break; // nil, false, true
      case 0xc4: case 0xd9: [tail, size] = [Tail.Length, 1]; break; // bin8, str8
      case 0xc5: case 0xda: [tail, size] = [Tail.Length, 2]; break;
      case 0xc6: case 0xdb: [tail, size] = [Tail.Length, 4]; break;
      case 0xca: [tail, size] = [Tail.Fixed, 4]; break; // float32
      case 0xcb: [tail, size] = [Tail.Fixed, 8]; break; // float64
      case 0xcc: case 0xd0: [tail, size] = [Tail.Fixed, 1]; break; // uint8, int8
      case 0xcd: case 0xd1: [tail, size] = [Tail.Fixed, 2]; break;
      case 0xce: case 0xd2: [tail, size] = [Tail.Fixed, 4]; break;
      case 0xcf: case 0xd3: [tail, size] = [Tail.Fixed, 8]; break;
      case 0xdc: case 0xde: [tail, size] = [Tail.Count, 2]; break; // array16, map16
      case 0xdd: case 0xdf: [tail, size] = [Tail.Count, 4]; break; // array32, map32
      default: return false;
    }
    if (b === 0xde || b === 0xdf) perEntry = 2;
  }
  let next = at + 1;
  if (tail === Tail.Fixed) next += size;
  else if (tail === Tail.Length || tail === Tail.Count) {
    if (next + size > view.byteLength) return false;
    const n = size === 1 ? view.getUint8(next) : size === 2 ? view.getUint16(next) : view.getUint32(next);
    next += size;
    if (tail === Tail.Count) return container(head, next, n * perEntry, view);
    next += n;
  }
  if (next > view.byteLength) return false;
  head.next = next;
  return true;
}

function container(head: Head, next: number, values: number, view: DataView): boolean {
  if (next > view.byteLength) return false;
  head.next = next;
  head.values = values;
  head.container = true;
  return true;
}

function decodePayload(payload: Uint8Array): Frame {
  let value: unknown;
  try {
    value = packr.unpack(payload);
  } catch (error) {
    throw corrupt(`frame payload is not msgpack: ${(error as Error).message}`, error);
  }
  return checkFrame(value);
}

const seqLike = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const bytesLike = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** Checks a decoded payload has a Frame's exact shape; the wire is not trusted. */
export function checkFrame(value: unknown): Frame {
  const f = value as Record<string, unknown> | null;
  if (!f || typeof f !== 'object' || !seqLike(f['term'])) throw corrupt('frame is not a map with a term');
  const ok = (() => {
    switch (f['type']) {
      case 'hello':
        return typeof f['leader'] === 'string' && (f['plan'] === 'stream' || f['plan'] === 'snapshot') && seqLike(f['from']) && seqLike(f['leaderSeq']) && Array.isArray(f['history']);
      case 'batch':
        return seqLike(f['first']) && seqLike(f['last']) && (f['first'] as number) <= (f['last'] as number) && bytesLike(f['batch']) &&
          batchMatches(f['batch'], f['first'] as number, f['last'] as number);
      case 'heartbeat':
        return seqLike(f['leaderSeq']) && (f['reportIntervalMs'] === undefined || (seqLike(f['reportIntervalMs']) && (f['reportIntervalMs'] as number) <= REPORT_INTERVAL_MS_MAX));
      case 'snapshot-begin':
      case 'checkpoint':
      case 'fenced':
        return seqLike(f['seq']);
      case 'moved':
        return seqLike(f['through']) && Array.isArray(f['ops']) &&
          (f['ops'] as unknown[]).every((op) => Array.isArray(op) && op.length === 3 && (op[0] === 0 || op[0] === 1) && bytesLike(op[1]) && bytesLike(op[2]));
      case 'snapshot-chunk':
        return Array.isArray(f['entries']) && f['entries'].length % 2 === 0 && f['entries'].every(bytesLike);
      case 'snapshot-end':
        return seqLike(f['seq']) && seqLike(f['count']);
      default:
        return false;
    }
  })();
  if (!ok) throw corrupt(`malformed ${JSON.stringify(String(f['type']).slice(0, 32))} frame`);
  return f as unknown as Frame;
}

/** On the wire: a batch starts `seq:u64le count:u32le` (docs/formats/wal.md). */
const BATCH_HEADER_BYTES = 12;

/** Whether a batch's own header says what its frame says: first sequence number and op count. */
function batchMatches(batch: Uint8Array, first: number, last: number): boolean {
  if (batch.length < BATCH_HEADER_BYTES) return false;
  const view = new DataView(batch.buffer, batch.byteOffset, BATCH_HEADER_BYTES);
  return view.getBigUint64(0, true) === BigInt(first) && view.getUint32(8, true) === last - first + 1;
}

function corrupt(message: string, cause?: unknown): ClusterError {
  return new ClusterError('CORRUPTION', `replication stream: ${message}`, cause === undefined ? undefined : { cause });
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
