/**
 * A pre-scan of msgpack bytes that checks every declared length and count against the bytes
 * actually there, before a decoder allocates anything. msgpackr's unpack allocates
 * `new Array(n)` straight from an array header, so a 6-byte payload declaring 2^32 elements
 * would otherwise cost gigabytes before failing. Pure; O(bytes), no allocation per item.
 *
 * Refused: truncated items, arrays or maps whose count exceeds the bytes left (each element
 * takes at least one byte) or `countMax`, nesting deeper than `depthMax`, extension types
 * (the Raft codec never sends them; msgpackr would turn them into Dates or records), and the
 * never-used byte 0xc1.
 */
import { RaftError } from './raft-errors.ts';

export interface MsgpackBounds {
  depthMax: number;
  /** Most elements of one array or entries of one map. */
  countMax: number;
}

/** Bytes of the length field after a str/bin type byte, or of the payload of a fixed-size number. */
const FIXED_BYTES = new Map<number, number>([
  [0xcc, 1], [0xd0, 1], [0xcd, 2], [0xd1, 2], [0xca, 4], [0xce, 4], [0xd2, 4], [0xcb, 8], [0xcf, 8], [0xd3, 8],
]);

class Scanner {
  private at: number;
  /** Items still to read at each open container level. */
  private readonly pending: number[] = [1];

  constructor(private readonly bytes: Uint8Array, from: number, private readonly to: number, private readonly bounds: MsgpackBounds) {
    this.at = from;
  }

  private bad(why: string): RaftError {
    return new RaftError('BAD_MESSAGE', `raft codec: msgpack ${why} at byte ${this.at}`);
  }

  /** Skips `n` bytes; returns where they start. */
  private take(n: number, what: string): number {
    if (n > this.to - this.at) throw this.bad(`${what} of ${n} bytes overruns the ${this.to - this.at} bytes left`);
    const start = this.at;
    this.at += n;
    return start;
  }

  /** Reads a big-endian length of `width` bytes. */
  private length(width: number): number {
    const at = this.take(width, 'length');
    let n = 0;
    for (let k = 0; k < width; k++) n = n * 256 + this.bytes[at + k]!;
    return n;
  }

  private open(count: number, what: string): void {
    if (count > this.bounds.countMax) throw this.bad(`${what} of ${count} elements exceeds ${this.bounds.countMax}`);
    if (count > this.to - this.at) throw this.bad(`${what} of ${count} elements overruns the ${this.to - this.at} bytes left`);
    if (this.pending.length >= this.bounds.depthMax) throw this.bad(`nesting deeper than ${this.bounds.depthMax}`);
    this.pending.push(count);
  }

  run(): void {
    const pending = this.pending;
    while (pending.length > 0) {
      if (pending[pending.length - 1] === 0) {
        pending.pop();
        continue;
      }
      pending[pending.length - 1]!--;
      this.item(this.bytes[this.take(1, 'type byte')]!);
    }
    if (this.at !== this.to) throw this.bad(`item ends with ${this.to - this.at} bytes left over`);
  }

  private item(b: number): void {
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return;
    if (b <= 0x8f) return this.open((b & 0x0f) * 2, 'map');
    if (b <= 0x9f) return this.open(b & 0x0f, 'array');
    if (b <= 0xbf) return void this.take(b & 0x1f, 'string');
    const fixed = FIXED_BYTES.get(b);
    if (fixed !== undefined) return void this.take(fixed, 'number');
    switch (b) {
      case 0xc4: case 0xd9: return void this.take(this.length(1), 'bytes');
      case 0xc5: case 0xda: return void this.take(this.length(2), 'bytes');
      case 0xc6: case 0xdb: return void this.take(this.length(4), 'bytes');
      case 0xdc: return this.open(this.length(2), 'array');
      case 0xdd: return this.open(this.length(4), 'array');
      case 0xde: return this.open(this.length(2) * 2, 'map');
      case 0xdf: return this.open(this.length(4) * 2, 'map');
      default: throw this.bad(`type byte 0x${b.toString(16)} (extension or unused)`);
    }
  }
}

/** Throws BAD_MESSAGE unless `bytes[from, to)` is exactly one well-formed msgpack item within bounds. */
export function checkMsgpackBounds(bytes: Uint8Array, from: number, to: number, bounds: MsgpackBounds): void {
  new Scanner(bytes, from, to, bounds).run();
}
