/**
 * Reading a block (data or index) of an SSTable: its layout, as written by block-builder.ts, is
 *
 *   block   := entry* restart:u32le* restart_count:u32le
 *   entry   := shared:varint unshared:varint value_length:varint key_delta[unshared] value
 *
 * An entry's key is the first `shared` bytes of the previous key followed by `key_delta`. At a
 * restart point `shared` is 0, so the key is stored whole and a binary search over the restart
 * array compares keys in place. Keys are encoded internal keys (user key ++ 8-byte trailer).
 *
 * A `Block` is immutable once decoded (the block cache shares it between iterators); a
 * `BlockIterator` is one cursor over it. The iterator decodes keys into its own scratch buffer,
 * so stepping and seeking allocate nothing; `userKey()` returns a fresh copy and `value()` a
 * view of the block's bytes, which are never written again (the iterator contract).
 *
 * Invariants checked when decoding (after the checksum passed, so a failure means a bug or a
 * checksum collision): restart offsets ascend and lie before the restart array; each entry's
 * lengths stay inside the entry region, `shared` never exceeds the previous key, and every key
 * is long enough to hold a trailer. A violation is a CorruptionError naming file and block.
 */
import { CorruptionError } from '../errors.ts';
import { TRAILER_BYTES, type ValueKind } from '../internal-key.ts';
import { readVarint, type VarintRead } from '../util/varint.ts';

/** Fixed per-block overhead charged to the block cache (object headers). */
const BLOCK_OVERHEAD_BYTES = 64;

export class Block {
  private constructor(
    readonly data: Uint8Array,
    /** The entry region ends where the restart array begins. */
    readonly limit: number,
    readonly restartCount: number,
    /** For error messages: the file, the block's offset in it, and what kind of block. */
    readonly file: string,
    readonly offset: number,
    readonly what: string,
  ) {}

  /**
   * Decodes verified block contents: O(1), it only reads the restart count and checks that the
   * restart array fits. Each restart is checked when a cursor uses it (BlockIterator), so a
   * block read for one point lookup costs no pass over its restarts.
   */
  static decode(data: Uint8Array, file: string, offset: number, what: string): Block {
    if (data.length < 4) throw new CorruptionError(`sst: ${what} at offset ${offset} is malformed: ${data.length} bytes is too short`, { file });
    const count = readUint32(data, data.length - 4);
    if (count < 1 || count > (data.length - 4) / 4) {
      throw new CorruptionError(`sst: ${what} at offset ${offset} is malformed: restart count ${count} does not fit`, { file });
    }
    return new Block(data, data.length - 4 - count * 4, count, file, offset, what);
  }

  /** Bytes this block holds in memory, for the block cache's budget. */
  get charge(): number {
    return this.data.byteLength + BLOCK_OVERHEAD_BYTES;
  }

  /** The offset of restart `index`, unchecked (BlockIterator checks it). */
  restartOffset(index: number): number {
    return readUint32(this.data, this.limit + index * 4);
  }

  iterator(): BlockIterator {
    return new BlockIterator(this);
  }
}

/** The last decoded entry header (module scope: decoding is synchronous and never nested). */
const header = { shared: 0, unshared: 0, valueLength: 0, keyStart: 0 };
const varintScratch: VarintRead = { value: 0, offset: 0 };

/**
 * Decodes the entry header at `at` into `header`; returns undefined, or why it is malformed.
 * The fast path is LevelDB's: all three lengths fit one byte each.
 */
function decodeEntryHeader(d: Uint8Array, at: number, limit: number): string | undefined {
  let p = at;
  if (p + 3 <= limit && (d[p]! | d[p + 1]! | d[p + 2]!) < 0x80) {
    header.shared = d[p]!;
    header.unshared = d[p + 1]!;
    header.valueLength = d[p + 2]!;
    p += 3;
  } else {
    const bounded = limit === d.length ? d : d.subarray(0, limit);
    for (let field = 0; field < 3; field++) {
      readVarint(bounded, p, varintScratch);
      if (varintScratch.offset < 0) return 'a length varint is malformed';
      p = varintScratch.offset;
      if (field === 0) header.shared = varintScratch.value;
      else if (field === 1) header.unshared = varintScratch.value;
      else header.valueLength = varintScratch.value;
    }
  }
  if (p + header.unshared + header.valueLength > limit) return 'an entry runs past the restart array';
  if (header.shared + header.unshared < TRAILER_BYTES) return 'a key is shorter than its trailer';
  header.keyStart = p;
  return undefined;
}

/**
 * Compares internal keys a[aAt, aAt+aLen) and b[bAt, bAt+bLen), each user key ++ trailer, in
 * internal order: user key ascending, then trailer (seq * 256 + kind) descending.
 */
export function compareInternalRange(a: Uint8Array, aAt: number, aLen: number, b: Uint8Array, bAt: number, bLen: number): number {
  const aUser = aLen - TRAILER_BYTES;
  const bUser = bLen - TRAILER_BYTES;
  const n = aUser < bUser ? aUser : bUser;
  for (let i = 0; i < n; i++) {
    const d = a[aAt + i]! - b[bAt + i]!;
    if (d !== 0) return d;
  }
  if (aUser !== bUser) return aUser - bUser;
  return compareTrailers(a, aAt + aUser, b, bAt + bUser);
}

/** Compares the trailers at a[aAt, aAt + 8) and b[bAt, bAt + 8): the larger (seq, kind) first. */
function compareTrailers(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): number {
  const aHigh = readUint32(a, aAt + 4);
  const bHigh = readUint32(b, bAt + 4);
  if (aHigh !== bHigh) return aHigh > bHigh ? -1 : 1;
  const aLow = readUint32(a, aAt);
  const bLow = readUint32(b, bAt);
  return aLow === bLow ? 0 : aLow > bLow ? -1 : 1;
}

/**
 * As compareInternalRange for a[0, aLen) and b[0, bLen), given that their user keys agree on
 * their first `start` bytes. Sets `matchedBytes` to how many leading user-key bytes agree.
 */
function compareInternalFrom(a: Uint8Array, aLen: number, b: Uint8Array, bLen: number, start: number): number {
  const aUser = aLen - TRAILER_BYTES;
  const bUser = bLen - TRAILER_BYTES;
  const n = aUser < bUser ? aUser : bUser;
  for (let i = start; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) {
      matchedBytes = i;
      return d;
    }
  }
  matchedBytes = n;
  if (aUser !== bUser) return aUser - bUser;
  return compareTrailers(a, aUser, b, bUser);
}
/** See compareInternalFrom (module scope: comparisons are synchronous and never nested). */
let matchedBytes = 0;

/** Copies src[from, from + length) to dst[to...]; a loop beats a subarray for short keys. */
function copyBytes(src: Uint8Array, from: number, length: number, dst: Uint8Array, to: number): void {
  if (length > 32) {
    dst.set(src.subarray(from, from + length), to);
    return;
  }
  for (let i = 0; i < length; i++) dst[to + i] = src[from + i]!;
}

function readUint32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** The sequence number in the trailer at `key[at, at + 8)`. */
export function trailerSeq(key: Uint8Array, at: number): number {
  return readUint32(key, at + 4) * 0x100_0000 + (readUint32(key, at) >>> 8);
}

export class BlockIterator {
  private data: Uint8Array;
  private limit: number;
  private restartCount: number;
  /** Offset of the current entry; `limit` when not valid. */
  private current: number;
  private nextOffset = 0;
  private restartIndex = 0;
  /**
   * Restart restartIndex + 1's offset, already checked, or `limit` past the last restart:
   * read once per restart passed, not once per entry (re-reading it for every entry was a
   * tenth of a cached point lookup's samples).
   */
  private nextRestart = 0;
  /** The current key, decoded: key[0, keyLength). Read-only for callers; rewritten on each move. */
  key = new Uint8Array(64);
  keyLength = 0;
  valueOffset = 0;
  valueLength = 0;
  private userKeyCopy: Uint8Array | undefined;

  constructor(public block: Block) {
    this.data = block.data;
    this.limit = block.limit;
    this.restartCount = block.restartCount;
    this.current = block.limit;
  }

  /** Points this cursor at another block, unpositioned; lets a table reuse one cursor. */
  reset(block: Block): void {
    this.block = block;
    this.data = block.data;
    this.limit = block.limit;
    this.restartCount = block.restartCount;
    this.current = block.limit;
    this.userKeyCopy = undefined;
  }

  valid(): boolean {
    return this.current < this.limit;
  }

  seekToFirst(): void {
    this.seekToRestart(0);
    this.parseNext();
  }

  seekToLast(): void {
    this.seekToRestart(this.restartCount - 1);
    while (this.parseNext() && this.nextOffset < this.limit);
  }

  /** Positions at the first entry whose key is >= target[0, targetLength). */
  seek(target: Uint8Array, targetLength: number): void {
    let lo = 0;
    let hi = this.restartCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      const at = this.restart(mid);
      const why = decodeEntryHeader(this.data, at, this.limit);
      if (why !== undefined) this.corrupt(at, why);
      if (header.shared !== 0) this.corrupt(at, 'a restart entry shares a prefix');
      if (compareInternalRange(this.data, header.keyStart, header.unshared, target, 0, targetLength) < 0) lo = mid;
      else hi = mid - 1;
    }
    this.seekToRestart(lo);
    // Each key shares its first `header.shared` bytes with the one before, which agreed with
    // the target on its first `matched`: the comparison starts past both. (Keys in a block
    // share most of their bytes, 12 of 16 in the benchmark, and this scan compares about 8.)
    let matched = 0;
    while (this.parseNext()) {
      const from = header.shared < matched ? header.shared : matched;
      if (compareInternalFrom(this.key, this.keyLength, target, targetLength, from) >= 0) return;
      matched = matchedBytes;
    }
  }

  next(): void {
    this.parseNext();
  }

  /** Steps back by rescanning from the restart point before the current entry. */
  prev(): void {
    const original = this.current;
    let index = this.restartIndex;
    while (this.restart(index) >= original) {
      if (index === 0) {
        this.current = this.limit;
        return;
      }
      index--;
    }
    this.seekToRestart(index);
    while (this.parseNext() && this.nextOffset < original);
  }

  /** Compares the current key with target[0, targetLength). REQUIRES: valid(). */
  compareKey(target: Uint8Array, targetLength: number): number {
    return compareInternalRange(this.key, 0, this.keyLength, target, 0, targetLength);
  }

  userKey(): Uint8Array {
    this.userKeyCopy ??= this.key.slice(0, this.keyLength - TRAILER_BYTES);
    return this.userKeyCopy;
  }

  /** The current user key's length; compare it in `key` to avoid a copy. */
  userKeyLength(): number {
    return this.keyLength - TRAILER_BYTES;
  }

  seq(): number {
    return trailerSeq(this.key, this.keyLength - TRAILER_BYTES);
  }

  kind(): ValueKind {
    return this.key[this.keyLength - TRAILER_BYTES]! as ValueKind;
  }

  value(): Uint8Array {
    return this.data.subarray(this.valueOffset, this.valueOffset + this.valueLength);
  }

  /** The current entry's offset within the block (for sst-dump and verify). */
  entryOffset(): number {
    return this.current;
  }

  private seekToRestart(index: number): void {
    this.keyLength = 0;
    this.nextOffset = this.restart(index);
    this.enterRestart(index);
  }

  /** Makes `index` the current restart and checks the next one (see nextRestart). */
  private enterRestart(index: number): void {
    this.restartIndex = index;
    this.nextRestart = index + 1 < this.restartCount ? this.restart(index + 1) : this.limit;
  }

  /** Restart `index`'s offset, checked: restarts ascend from 0 and lie in the entry region. */
  private restart(index: number): number {
    const at = this.block.restartOffset(index);
    const ok = index === 0 ? at === 0 : at > this.block.restartOffset(index - 1) && at < this.limit;
    if (!ok) this.corrupt(this.limit + index * 4, `restart ${index} is at ${at}`);
    return at;
  }

  /** Moves to the entry at `nextOffset`; false (and not valid) at the end of the entries. */
  private parseNext(): boolean {
    this.userKeyCopy = undefined;
    const at = this.nextOffset;
    if (at >= this.limit) {
      // Every restart lies at an entry, so walking off the end has passed them all.
      if (this.restartIndex + 1 < this.restartCount) this.corrupt(this.limit + (this.restartIndex + 1) * 4, `restart ${this.restartIndex + 1} is not at an entry`);
      this.current = this.limit;
      return false;
    }
    const why = decodeEntryHeader(this.data, at, this.limit);
    if (why !== undefined) this.corrupt(at, why);
    const { shared, unshared, keyStart } = header;
    if (shared > this.keyLength) this.corrupt(at, `an entry shares ${shared} bytes of a ${this.keyLength}-byte key`);
    const keyLength = shared + unshared;
    if (keyLength > this.key.length) this.growKey(keyLength, shared);
    copyBytes(this.data, keyStart, unshared, this.key, shared);
    this.keyLength = keyLength;
    this.current = at;
    this.valueOffset = keyStart + unshared;
    this.valueLength = header.valueLength;
    this.nextOffset = this.valueOffset + this.valueLength;
    // Passing a restart checks it: it must be this entry, and a restart entry shares nothing.
    // So a full walk checks every restart, as verify() does. (Past the last restart,
    // nextRestart is `limit`, which no entry reaches.)
    if (this.nextRestart <= at) {
      if (this.nextRestart !== at) this.corrupt(this.limit + (this.restartIndex + 1) * 4, `restart ${this.restartIndex + 1} is at ${this.nextRestart}, inside an entry`);
      if (shared !== 0) this.corrupt(at, 'a restart entry shares a prefix');
      this.enterRestart(this.restartIndex + 1);
    }
    return true;
  }

  private growKey(length: number, keep: number): void {
    const grown = new Uint8Array(Math.max(length, this.key.length * 2));
    grown.set(this.key.subarray(0, keep));
    this.key = grown;
  }

  private corrupt(at: number, why: string): never {
    const { file, offset, what } = this.block;
    this.current = this.limit;
    throw new CorruptionError(`sst: ${what} at offset ${offset} is malformed at byte ${at}: ${why}`, { file });
  }
}
