/**
 * Frames logical records into the log format (see log-format.ts). Pure: `frame()` turns a
 * payload into the bytes to append, given where in its block the file currently ends.
 */
import { crc32c } from '../util/crc32c.ts';
import { BLOCK_BYTES, HEADER_BYTES, RecordType } from './log-format.ts';

/** Bytes a payload of `payloadBytes` occupies when framed starting at `blockOffset`. */
function framedLength(payloadBytes: number, blockOffset: number): number {
  let total = 0;
  let left = payloadBytes;
  let offset = blockOffset;
  let first = true;
  while (first || left > 0) {
    const room = BLOCK_BYTES - offset;
    if (room < HEADER_BYTES) {
      total += room;
      offset = 0;
      continue;
    }
    const take = Math.min(left, room - HEADER_BYTES);
    total += HEADER_BYTES + take;
    left -= take;
    offset += HEADER_BYTES + take;
    first = false;
  }
  return total;
}

export class LogWriter {
  /** Where in its current block the file ends. */
  private blockOffset: number;
  /** frameReused()'s buffer. */
  private scratch = new Uint8Array(1024);

  /** `fileBytes`: the size of the file being appended to (0 for a new file). */
  constructor(fileBytes = 0) {
    this.blockOffset = fileBytes % BLOCK_BYTES;
  }

  /** The bytes that append `payload` as one logical record; advances the writer's position. */
  frame(payload: Uint8Array): Uint8Array {
    const out = new Uint8Array(framedLength(payload.length, this.blockOffset));
    this.frameInto(payload, out);
    return out;
  }

  /**
   * Like frame(), but into a buffer this writer keeps and reuses: the result is valid until
   * the next call. For a caller that hands the bytes straight to an append (the WAL), it saves
   * allocating a buffer per record.
   */
  frameReused(payload: Uint8Array): Uint8Array {
    const length = framedLength(payload.length, this.blockOffset);
    if (this.scratch.length < length) this.scratch = new Uint8Array(Math.max(length, this.scratch.length * 2));
    const out = this.scratch.subarray(0, length);
    this.frameInto(payload, out);
    return out;
  }

  /** Writes the framed record into `out`, exactly framedLength() bytes; advances the position. */
  private frameInto(payload: Uint8Array, out: Uint8Array): void {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    let at = 0;
    let left = payload.length;
    let from = 0;
    let first = true;
    while (first || left > 0) {
      const room = BLOCK_BYTES - this.blockOffset;
      if (room < HEADER_BYTES) {
        out.fill(0, at, at + room); // the zero trailer
        at += room;
        this.blockOffset = 0;
        continue;
      }
      const take = Math.min(left, room - HEADER_BYTES);
      const last = take === left;
      const type = first && last ? RecordType.Full : first ? RecordType.First : last ? RecordType.Last : RecordType.Middle;
      out[at + 6] = type;
      out.set(payload.subarray(from, from + take), at + HEADER_BYTES);
      view.setUint16(at + 4, take, true);
      view.setUint32(at, crc32c(out.subarray(at + 6, at + HEADER_BYTES + take)), true);
      at += HEADER_BYTES + take;
      this.blockOffset += HEADER_BYTES + take;
      from += take;
      left -= take;
      first = false;
    }
  }
}
