/**
 * The records of the Raft log and snapshot files: pure encode and decode. Each record is
 * framed by the engine's log format (32 KiB blocks, crc32c per fragment; docs/formats/wal.md),
 * so torn tails and corruption are told apart by the engine's LogReader.
 * Every constant here is on disk. The byte layout and a worked example: docs/formats/raft-log.md.
 *
 *   record    := kind:u8 body
 *   HEADER  1 := version:u8 snapshotGeneration:u32le snapshotIndex:u64le snapshotTerm:u64le
 *   HARD    2 := term:u64le commit:u64le voteLength:u16le vote
 *   ENTRIES 3 := count:u32le (index:u64le term:u64le type:u8 dataLength:u32le data)×count
 *   SNAPSHOT 4 := version:u8 index:u64le term:u64le voterCount:u16le (length:u16le voter)×count
 *                 dataLength:u32le data
 *
 * u64le holds a JavaScript safe integer (< 2^53). Strings are UTF-8.
 */
import { RaftError } from './raft-errors.ts';
import type { Entry, EntryType, HardState, NodeId, Snapshot } from './raft-types.ts';

export const RAFT_LOG_FORMAT_VERSION = 1;

export const enum RecordKind {
  Header = 1,
  HardState = 2,
  Entries = 3,
  Snapshot = 4,
}

export interface LogHeader {
  version: number;
  /** The generation of the snapshot file this log follows; 0: none (an empty snapshot). */
  snapshotGeneration: number;
  snapshotIndex: number;
  snapshotTerm: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Appends fixed-width little-endian fields to a growing buffer. */
class ByteWriter {
  private bytes = new Uint8Array(64);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): this { this.room(1); this.view.setUint8(this.length, v); this.length += 1; return this; }
  u16(v: number): this { this.room(2); this.view.setUint16(this.length, v, true); this.length += 2; return this; }
  u32(v: number): this { this.room(4); this.view.setUint32(this.length, v, true); this.length += 4; return this; }
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RaftError('INVALID_ARGUMENT', `raft log format: ${v} is not a safe non-negative integer`);
    return this.u32(v % 0x1_0000_0000).u32(Math.floor(v / 0x1_0000_0000));
  }
  raw(b: Uint8Array): this { this.room(b.length); this.bytes.set(b, this.length); this.length += b.length; return this; }
  text16(s: string): this { const b = encoder.encode(s); return this.u16(b.length).raw(b); }
  finish(): Uint8Array { return this.bytes.slice(0, this.length); }
}

/** Reads fixed-width fields, checking every length against what is left. */
class ByteReader {
  private at = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number): number {
    if (this.at + n > this.bytes.length) throw corrupt(`${this.what}: ${n} bytes needed at offset ${this.at}, ${this.bytes.length - this.at} left`);
    const at = this.at;
    this.at += n;
    return at;
  }
  u8(): number { return this.view.getUint8(this.need(1)); }
  u16(): number { return this.view.getUint16(this.need(2), true); }
  u32(): number { return this.view.getUint32(this.need(4), true); }
  u64(): number {
    const low = this.u32();
    const high = this.u32();
    if (high >= 0x20_0000) throw corrupt(`${this.what}: a 64-bit field above 2^53`);
    return high * 0x1_0000_0000 + low;
  }
  raw(n: number): Uint8Array { const at = this.need(n); return this.bytes.subarray(at, at + n); }
  text16(): string {
    const bytes = this.raw(this.u16());
    try { return decoder.decode(bytes); } catch (cause) { throw corrupt(`${this.what}: a string is not UTF-8`, cause); }
  }
  end(): void { if (this.at !== this.bytes.length) throw corrupt(`${this.what}: ${this.bytes.length - this.at} bytes left over`); }
}

function corrupt(message: string, cause?: unknown): RaftError {
  return new RaftError('CORRUPTION', `raft log format: ${message}`, cause === undefined ? undefined : { cause });
}

export function encodeHeader(h: LogHeader): Uint8Array {
  return new ByteWriter().u8(RecordKind.Header).u8(h.version).u32(h.snapshotGeneration).u64(h.snapshotIndex).u64(h.snapshotTerm).finish();
}

export function encodeHardState(h: HardState): Uint8Array {
  return new ByteWriter().u8(RecordKind.HardState).u64(h.term).u64(h.commit).text16(h.vote).finish();
}

export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  const w = new ByteWriter().u8(RecordKind.Entries).u32(entries.length);
  for (const e of entries) w.u64(e.index).u64(e.term).u8(e.type).u32(e.data.length).raw(e.data);
  return w.finish();
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const w = new ByteWriter().u8(RecordKind.Snapshot).u8(RAFT_LOG_FORMAT_VERSION).u64(s.index).u64(s.term).u16(s.voters.length);
  for (const voter of s.voters) w.text16(voter);
  return w.u32(s.data.length).raw(s.data).finish();
}

export type LogRecord =
  | { kind: RecordKind.Header; header: LogHeader }
  | { kind: RecordKind.HardState; hardState: HardState }
  | { kind: RecordKind.Entries; entries: Entry[] }
  | { kind: RecordKind.Snapshot; snapshot: Snapshot };

/** Decodes one record; CORRUPTION if its shape is wrong (the framing's checksum passed). */
export function decodeRecord(payload: Uint8Array, file: string): LogRecord {
  const r = new ByteReader(payload, file);
  const kind = r.u8();
  let record: LogRecord;
  switch (kind) {
    case RecordKind.Header: {
      const version = r.u8();
      if (version !== RAFT_LOG_FORMAT_VERSION) throw corrupt(`${file}: format version ${version}, this build reads ${RAFT_LOG_FORMAT_VERSION}`);
      record = { kind, header: { version, snapshotGeneration: r.u32(), snapshotIndex: r.u64(), snapshotTerm: r.u64() } };
      break;
    }
    case RecordKind.HardState:
      record = { kind, hardState: { term: r.u64(), commit: r.u64(), vote: r.text16() } };
      break;
    case RecordKind.Entries:
      record = { kind, entries: decodeEntries(r, file) };
      break;
    case RecordKind.Snapshot:
      record = { kind, snapshot: decodeSnapshotBody(r, file) };
      break;
    default:
      throw corrupt(`${file}: unknown record kind ${kind}`);
  }
  r.end();
  return record;
}

function decodeEntries(r: ByteReader, file: string): Entry[] {
  const count = r.u32();
  const entries: Entry[] = [];
  for (let k = 0; k < count; k++) {
    const index = r.u64();
    const term = r.u64();
    const type = r.u8();
    if (type > 1) throw corrupt(`${file}: entry ${index} has unknown type ${type}`);
    const data = r.raw(r.u32());
    if (k > 0 && index !== entries[k - 1]!.index + 1) throw corrupt(`${file}: entry ${index} does not follow ${entries[k - 1]!.index}`);
    entries.push({ index, term, type: type as EntryType, data });
  }
  return entries;
}

function decodeSnapshotBody(r: ByteReader, file: string): Snapshot {
  const version = r.u8();
  if (version !== RAFT_LOG_FORMAT_VERSION) throw corrupt(`${file}: snapshot format version ${version}, this build reads ${RAFT_LOG_FORMAT_VERSION}`);
  const index = r.u64();
  const term = r.u64();
  const voters: NodeId[] = [];
  const count = r.u16();
  for (let k = 0; k < count; k++) voters.push(r.text16());
  return { index, term, voters, data: r.raw(r.u32()) };
}
