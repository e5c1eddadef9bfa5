/**
 * Builds one block (data or index) in the layout block.ts reads: prefix-compressed entries,
 * a restart point every `restartInterval` entries, then the restart array and its count.
 * Pure: bytes in, bytes out; the table builder decides when a block is full and writes it.
 *
 * REQUIRES: keys are added in strictly increasing internal order (the table builder asserts
 * it, since it knows the parts of the key; here the order is only relied on).
 */
import { assert } from '../errors.ts';
import { varintLength, writeVarint } from '../util/varint.ts';

/** Past this, reset() drops the buffer instead of reusing it. */
const RETAINED_BUFFER_BYTES_MAX = 1024 * 1024;

export class BlockBuilder {
  private buffer = new Uint8Array(4096);
  private length = 0;
  private restarts: number[] = [0];
  private sinceRestart = 0;
  private lastKey = new Uint8Array(64);
  private lastKeyLength = 0;
  private entryCount = 0;
  private finished = false;

  constructor(private readonly restartInterval: number) {
    assert(Number.isInteger(restartInterval) && restartInterval >= 1, `restart interval ${restartInterval} must be a positive integer`);
  }

  /** Adds key[0, keyLength) with `value`. */
  add(key: Uint8Array, keyLength: number, value: Uint8Array): void {
    assert(!this.finished, 'BlockBuilder.add after finish without reset');
    let shared = 0;
    if (this.sinceRestart < this.restartInterval) {
      const n = Math.min(this.lastKeyLength, keyLength);
      while (shared < n && this.lastKey[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.length);
      this.sinceRestart = 0;
    }
    const unshared = keyLength - shared;
    const needed = varintLength(shared) + varintLength(unshared) + varintLength(value.length) + unshared + value.length;
    this.reserve(needed);
    let at = writeVarint(this.buffer, this.length, shared);
    at = writeVarint(this.buffer, at, unshared);
    at = writeVarint(this.buffer, at, value.length);
    copyBytes(key, shared, keyLength, this.buffer, at);
    at += unshared;
    this.buffer.set(value, at);
    this.length = at + value.length;
    this.rememberKey(key, keyLength, shared);
    this.sinceRestart++;
    this.entryCount++;
  }

  /** The size finish() would return now. */
  estimatedBytes(): number {
    return this.length + this.restarts.length * 4 + 4;
  }

  get entries(): number {
    return this.entryCount;
  }

  empty(): boolean {
    return this.entryCount === 0;
  }

  /** The finished block's contents: a view valid until the next reset(). */
  finish(): Uint8Array {
    assert(!this.finished, 'BlockBuilder.finish called twice');
    this.reserve(this.restarts.length * 4 + 4);
    const view = new DataView(this.buffer.buffer);
    for (const r of this.restarts) {
      view.setUint32(this.length, r, true);
      this.length += 4;
    }
    view.setUint32(this.length, this.restarts.length, true);
    this.length += 4;
    this.finished = true;
    return this.buffer.subarray(0, this.length);
  }

  reset(): void {
    // A block holding one huge value must not pin that much memory for the rest of the table.
    if (this.buffer.length > RETAINED_BUFFER_BYTES_MAX) this.buffer = new Uint8Array(4096);
    this.length = 0;
    this.restarts = [0];
    this.sinceRestart = 0;
    this.lastKeyLength = 0;
    this.entryCount = 0;
    this.finished = false;
  }

  private rememberKey(key: Uint8Array, keyLength: number, shared: number): void {
    if (keyLength > this.lastKey.length) {
      const grown = new Uint8Array(Math.max(keyLength, this.lastKey.length * 2));
      grown.set(this.lastKey.subarray(0, shared));
      this.lastKey = grown;
    }
    copyBytes(key, shared, keyLength, this.lastKey, shared);
    this.lastKeyLength = keyLength;
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.length + extra, this.buffer.length * 2));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}

/**
 * Copies src[from, to) to dst at `at`. Keys are short: a loop beats subarray() plus set(),
 * which allocate a view and call into the runtime for a few bytes.
 */
function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  if (to - from > 32) {
    dst.set(src.subarray(from, to), at);
    return;
  }
  for (let i = from; i < to; i++) dst[at++] = src[i]!;
}
