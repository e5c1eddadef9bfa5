/**
 * Unsigned LEB128 varints (as in LevelDB's coding.h), for lengths inside hot on-disk records.
 * Values up to 2^53 - 1 (JS safe integers) are supported; the decoder rejects anything longer
 * than 8 bytes' worth of payload so a corrupt byte run cannot loop or overflow.
 */

export const VARINT_BYTES_MAX = 8;

/** Bytes `value` takes as a varint. */
export function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Writes `value` at `offset`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[offset++] = value;
  return offset;
}

/** Result of a decode: the value and the offset after it, or -1 as offset when malformed. */
export interface VarintRead {
  value: number;
  offset: number;
}

/** Reads a varint at `offset`; `offset` is -1 in the result if the bytes end or run too long. */
export function readVarint(buf: Uint8Array, offset: number, out: VarintRead): VarintRead {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < VARINT_BYTES_MAX; i++) {
    if (offset >= buf.length) break;
    const b = buf[offset++]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      out.value = value;
      out.offset = offset;
      return out;
    }
    scale *= 128;
  }
  out.value = 0;
  out.offset = -1;
  return out;
}

/** Writes a 64-bit little-endian unsigned integer from a safe JS integer. */
export function writeUint64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** Reads a 64-bit little-endian unsigned integer; values beyond 2^53 - 1 come back as NaN. */
export function readUint64(view: DataView, offset: number): number {
  const low = view.getUint32(offset, true);
  const high = view.getUint32(offset + 4, true);
  if (high > 0x1f_ffff) return Number.NaN;
  return high * 0x1_0000_0000 + low;
}
