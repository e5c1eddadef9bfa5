/**
 * Reads logical records back out of a log file's bytes (see log-format.ts). Pure.
 *
 * What a crash can leave at the end of a log is a torn tail: a partial header, a fragment
 * cut short by the end of the file, a final fragment whose checksum fails, or a FIRST with no
 * LAST. That tail is dropped and its size reported in `droppedBytes`; it was never
 * acknowledged as durable, because the writer acknowledges only after a record is complete.
 *
 * Anything wrong before the tail is corruption and throws CorruptionError, unless
 * `skipCorruption` is set, in which case the damaged block is skipped and counted.
 * To tell a torn tail from a corrupted length field that merely looks like one, the reader
 * scans what follows a suspected tail for any record with a valid checksum: finding one means
 * data after the damage was written, so it is corruption, not a tail.
 */
import { CorruptionError } from '../errors.ts';
import { concatBytes } from '../util/bytes.ts';
import { crc32c } from '../util/crc32c.ts';
import { BLOCK_BYTES, HEADER_BYTES, RecordType, RECORD_TYPE_MAX } from './log-format.ts';

export interface LogReaderOptions {
  /** Skip damaged blocks instead of failing (LevelDB's paranoid_checks off). Default false. */
  skipCorruption?: boolean;
}

interface Fragment {
  type: RecordType;
  payload: Uint8Array;
}

export class LogReader {
  private offset = 0;
  private readonly view: DataView;
  /** Bytes of a torn tail that were dropped. */
  droppedBytes = 0;
  /** Bytes skipped because of corruption (only with `skipCorruption`). */
  skippedBytes = 0;
  /** Offset just past the last complete logical record returned. */
  validBytes = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileName: string,
    private readonly options: LogReaderOptions = {},
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The next logical record, or undefined at the end (after dropping any torn tail). */
  next(): Uint8Array | undefined {
    let parts: Uint8Array[] | undefined;
    let startOffset = this.offset;
    for (;;) {
      const fragment = this.nextFragment();
      if (fragment === undefined) {
        if (parts) this.dropTail(startOffset); // a FIRST with no LAST: torn tail
        return undefined;
      }
      switch (fragment.type) {
        case RecordType.Full:
          if (parts) this.corrupt(startOffset, 'FULL fragment inside a split record');
          this.validBytes = this.offset;
          return fragment.payload;
        case RecordType.First:
          if (parts) this.corrupt(startOffset, 'FIRST fragment inside a split record');
          startOffset = this.offset - HEADER_BYTES - fragment.payload.length;
          parts = [fragment.payload];
          break;
        case RecordType.Middle:
          if (!parts) {
            this.corrupt(this.offset, 'MIDDLE fragment without a FIRST');
            break;
          }
          parts.push(fragment.payload);
          break;
        case RecordType.Last: {
          if (!parts) {
            this.corrupt(this.offset, 'LAST fragment without a FIRST');
            break;
          }
          parts.push(fragment.payload);
          this.validBytes = this.offset;
          return concatBytes(parts);
        }
      }
    }
  }

  /** Reads one physical fragment, or undefined at the end of the file (tail dropped). */
  private nextFragment(): Fragment | undefined {
    for (;;) {
      const end = this.bytes.length;
      const blockLeft = BLOCK_BYTES - (this.offset % BLOCK_BYTES);
      if (blockLeft < HEADER_BYTES) {
        this.offset += Math.min(blockLeft, end - this.offset);
        continue;
      }
      if (this.offset >= end) return undefined;
      const at = this.offset;
      if (end - at < HEADER_BYTES) return this.tailOrCorrupt(at, 'partial header');
      const length = this.view.getUint16(at + 4, true);
      const type = this.bytes[at + 6]!;
      if (type === RecordType.Zero && length === 0 && allZero(this.bytes, at, Math.min(end, at + blockLeft))) {
        // Zero-filled space: the rest of the block holds nothing.
        if (at + blockLeft >= end) return this.tailOrCorrupt(at, 'zero-filled tail');
        this.offset = at + blockLeft;
        continue;
      }
      if (HEADER_BYTES + length > blockLeft) {
        this.corruptAndSkip(at, `fragment length ${length} crosses its block`);
        continue;
      }
      if (at + HEADER_BYTES + length > end) return this.tailOrCorrupt(at, 'fragment cut short by end of file');
      const stored = this.view.getUint32(at, true);
      const actual = crc32c(this.bytes.subarray(at + 6, at + HEADER_BYTES + length));
      if (stored !== actual) {
        if (at + HEADER_BYTES + length === end) return this.tailOrCorrupt(at, 'checksum mismatch in final fragment');
        this.corruptAndSkip(at, `checksum mismatch (stored ${stored}, computed ${actual})`);
        continue;
      }
      if (type === RecordType.Zero || type > RECORD_TYPE_MAX) {
        this.corruptAndSkip(at, `unknown fragment type ${type}`);
        continue;
      }
      this.offset = at + HEADER_BYTES + length;
      return { type, payload: this.bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length) };
    }
  }

  /** A suspected torn tail at `at`: dropped if nothing valid follows, else corruption. */
  private tailOrCorrupt(at: number, why: string): Fragment | undefined {
    if (this.validRecordAfter(at)) {
      this.corruptAndSkip(at, `${why}, but valid records follow`);
      return this.nextFragment();
    }
    this.dropTail(at);
    return undefined;
  }

  private dropTail(at: number): void {
    // A split record's FIRST may already be dropped from a later fragment: count bytes once.
    this.droppedBytes = Math.max(this.droppedBytes, this.bytes.length - at);
    this.offset = this.bytes.length;
  }

  private validRecordAfter(at: number): boolean {
    for (let p = at + 1; p + HEADER_BYTES <= this.bytes.length; p++) {
      const blockLeft = BLOCK_BYTES - (p % BLOCK_BYTES);
      if (blockLeft < HEADER_BYTES) continue;
      const length = this.view.getUint16(p + 4, true);
      const type = this.bytes[p + 6]!;
      if (type === RecordType.Zero || type > RECORD_TYPE_MAX) continue;
      if (HEADER_BYTES + length > blockLeft || p + HEADER_BYTES + length > this.bytes.length) continue;
      if (this.view.getUint32(p, true) === crc32c(this.bytes.subarray(p + 6, p + HEADER_BYTES + length))) return true;
    }
    return false;
  }

  private corrupt(at: number, why: string): never | void {
    if (!this.options.skipCorruption) {
      throw new CorruptionError(`log: ${why} at offset ${at}`, { file: this.fileName });
    }
  }

  /** Corruption at `at`: throw, or (when skipping) count the rest of the block and move past it. */
  private corruptAndSkip(at: number, why: string): void {
    this.corrupt(at, why);
    const blockEnd = Math.min(this.bytes.length, at - (at % BLOCK_BYTES) + BLOCK_BYTES);
    this.skippedBytes += blockEnd - at;
    this.offset = blockEnd;
  }
}

function allZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}
