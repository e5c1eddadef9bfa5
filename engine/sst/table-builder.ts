/**
 * Writes one SSTable (layout in table-format.ts and docs/formats/sstable.md) to a fresh file.
 *
 * Usage: `add()` entries in strictly increasing internal order (asserted: an out-of-order
 * key is a bug in the caller, and writing it would make the table unreadable by binary
 * search), then `finish()`, or `abandon()` to give up. The builder appends synchronously and
 * never syncs or closes the file: the caller owns durability (sync, then syncDir, then the
 * manifest edit) and decides what to do with an abandoned file. Blocks collect in an
 * OUTPUT_BUFFER_BYTES buffer and reach the file one buffer at a time, not one 4 KiB block
 * per write call (a table is not readable before finish() anyway); finish() appends the rest.
 *
 * Index keys are shortened separators (LevelDB's FindShortestSeparator): a key >= every key of
 * the block before and < every key of the block after, often much shorter than either. So an
 * index entry for a block is only written once the first key of the next block is known.
 *
 * The bloom filter covers distinct user keys; their 32-bit hashes are collected as entries
 * arrive (4 bytes per key, not the keys), and the filter is built at finish().
 *
 * Range tombstones (`addRangeTombstone`, in any order) go to the range deletion block at
 * finish(), sorted. The table's bounds cover them: smallest is the lower of the first entry
 * and the first tombstone's start; largest the higher of the last entry and the furthest
 * tombstone end, which, being exclusive, is recorded with the trailer (SEQ_MAX, RangeDelete)
 * that sorts before every entry of that key (`isExclusiveBound`), unless it is the successor
 * of a key (`upperBound`). A table may hold tombstones and no entries.
 */
import { assert } from '../errors.ts';
import type { WritableFile } from '../fs/file-system.ts';
import { encodeInternalKey, type InternalKey, KIND_SEEK, kindOf, SEQ_MAX, seqOf, TRAILER_BYTES, ValueKind, writeTrailer } from '../internal-key.ts';
import { compareTombstones, type RangeTombstone } from '../range-tombstones.ts';
import { compareBytes } from '../util/bytes.ts';
import { DEFAULT_OPTIONS } from '../options.ts';
import { compareInternalRange } from './block.ts';
import { BlockBuilder } from './block-builder.ts';
import { bloomHash, buildBloomFilterFromHashes } from './bloom.ts';
import {
  BLOCK_HANDLE_BYTES_MAX,
  type BlockHandle,
  DATA_RESTART_INTERVAL,
  decodeFooter,
  encodeBlockHandle,
  encodeFooter,
  FOOTER_BYTES,
  INDEX_RESTART_INTERVAL,
  META_BLOCK_BYTES_MAX,
  BLOCK_TRAILER_BYTES,
  type Footer,
  TABLE_FORMAT_VERSION,
} from './table-format.ts';
import { encodeProperties, type TableProperties } from './table-properties.ts';
import { crc32c } from '../util/crc32c.ts';

/**
 * The largest key a table holding `t` must claim. Keys below `end` are exactly the keys up to
 * `end` without its last byte when that byte is 0x00 (`L ++ 0x00` is the successor of `L`, as
 * compaction's cuts make), so that key is the bound, inclusive. Otherwise no key lies just
 * below `end`, and the bound is `end` marked exclusive (see the file comment).
 */
function upperBound(t: RangeTombstone): InternalKey {
  const end = t.end;
  if (end.length > 0 && end[end.length - 1] === 0) return { userKey: end.slice(0, end.length - 1), seq: t.seq, kind: ValueKind.RangeDelete };
  return { userKey: end.slice(), seq: SEQ_MAX, kind: ValueKind.RangeDelete };
}

/** Bytes collected before one append to the file. */
const OUTPUT_BUFFER_BYTES = 64 * 1024;

export interface TableBuilderOptions {
  /** A data block is cut once its contents reach this size. */
  blockBytes: number;
  /** 0 writes an empty filter (every lookup reads the index and a block). */
  bloomBitsPerKey: number;
}

/** What finish() returns: what a version edit records about the new file. */
export interface TableMetadata {
  fileBytes: number;
  entries: number;
  tombstones: number;
  rangeTombstones: number;
  smallest: InternalKey;
  largest: InternalKey;
  seqMin: number;
  seqMax: number;
}

/**
 * @example
 * ```ts
 * const file = fs.createWritable('/db/000012.sst');
 * const builder = new TableBuilder(file, options);
 * builder.add(utf8('apple'), 7, ValueKind.Put, utf8('red'));
 * const meta = builder.finish();
 * await file.sync();
 * file.close();
 * ```
 */
export class TableBuilder {
  private readonly options: TableBuilderOptions;
  private readonly dataBlock = new BlockBuilder(DATA_RESTART_INTERVAL);
  private readonly indexBlock = new BlockBuilder(INDEX_RESTART_INTERVAL);
  private offset = 0;
  private state: 'open' | 'finished' | 'abandoned' = 'open';
  /** The key being added and the one before it; two buffers swapped on each add, no allocation. */
  private key = new Uint8Array(64);
  private keyLength = 0;
  private lastKey = new Uint8Array(64);
  private lastKeyLength = 0;
  /** A written data block whose index entry waits for the next key (see the file comment). */
  private pendingHandle: BlockHandle | undefined;
  private readonly handleScratch = new Uint8Array(BLOCK_HANDLE_BYTES_MAX);
  private separator = new Uint8Array(64);
  private hashes = new Uint32Array(1024);
  private hashCount = 0;
  private smallest: InternalKey | undefined;
  private readonly stats = { entries: 0, tombstones: 0, seqMin: SEQ_MAX, seqMax: 0, rawKeyBytes: 0, rawValueBytes: 0, dataBlocks: 0 };
  /** Bytes not yet appended to the file: output[0, outputUsed). */
  private output = new Uint8Array(OUTPUT_BUFFER_BYTES);
  private outputUsed = 0;
  private readonly trailer = new Uint8Array(BLOCK_TRAILER_BYTES);
  private readonly rangeTombstones: RangeTombstone[] = [];
  private rangeTombstoneBytes = 0;

  constructor(
    private readonly file: WritableFile,
    options: Partial<TableBuilderOptions> = {},
  ) {
    this.options = {
      blockBytes: options.blockBytes ?? DEFAULT_OPTIONS.blockBytes,
      bloomBitsPerKey: options.bloomBitsPerKey ?? DEFAULT_OPTIONS.bloomBitsPerKey,
    };
    assert(this.options.blockBytes > 0, `blockBytes ${this.options.blockBytes} must be positive`);
    assert(this.options.bloomBitsPerKey >= 0, `bloomBitsPerKey ${this.options.bloomBitsPerKey} must not be negative`);
    assert(file.size() === 0, `table file ${file.path} must be empty, has ${file.size()} bytes`);
  }

  /** REQUIRES: (userKey, seq, kind) is greater, in internal order, than every key added so far. */
  add(userKey: Uint8Array, seq: number, kind: ValueKind, value: Uint8Array): void {
    // Checked with `if` first: an assert's message argument is built on every call, and this
    // runs once per entry of every flush and compaction.
    if (this.state !== 'open') assert(false, `TableBuilder.add on a ${this.state} builder`);
    if (!(Number.isSafeInteger(seq) && seq >= 0)) assert(false, `seq ${seq} must be a safe non-negative integer`);
    if (kind !== ValueKind.Put && kind !== ValueKind.Delete) assert(false, `kind ${kind} is not a value kind`);
    // Encode into the spare buffer and check the order before anything changes, so a failed
    // assertion leaves the builder as it was.
    this.encodeSpareKey(userKey, seq, kind);
    const first = this.stats.entries === 0;
    if (!first) {
      const order = compareInternalRange(this.lastKey, 0, this.lastKeyLength, this.key, 0, this.keyLength);
      if (order <= 0) assert(false, `table keys must be added in strictly increasing internal order (seq ${seq} after seq ${seqOf(this.key.subarray(0, this.keyLength))})`);
    }
    this.swapKeys();
    if (this.pendingHandle) this.addIndexEntry(this.shortestSeparator());
    if (first || !this.sameUserKeyAsLast(userKey.length)) this.addHash(bloomHash(userKey));
    if (first) this.smallest = { userKey: userKey.slice(), seq, kind };
    this.dataBlock.add(this.key, this.keyLength, value);
    this.count(seq, kind, value.length);
    if (this.dataBlock.estimatedBytes() >= this.options.blockBytes) this.flushDataBlock();
  }

  /**
   * Adds the range tombstone [start, end) at `seq`. REQUIRES: start < end; the arrays stay
   * unchanged until finish(); no two tombstones share both start and seq.
   */
  addRangeTombstone(start: Uint8Array, end: Uint8Array, seq: number): void {
    if (this.state !== 'open') assert(false, `TableBuilder.addRangeTombstone on a ${this.state} builder`);
    assert(Number.isSafeInteger(seq) && seq >= 0, `range tombstone seq ${seq} must be a safe non-negative integer`);
    assert(compareBytes(start, end) < 0, 'a range tombstone must start below its end');
    this.rangeTombstones.push({ start, end, seq });
    this.rangeTombstoneBytes += start.length + end.length + 2 * TRAILER_BYTES;
    if (seq < this.stats.seqMin) this.stats.seqMin = seq;
    if (seq > this.stats.seqMax) this.stats.seqMax = seq;
  }

  /** Bytes the file would have if finished now; compaction cuts outputs by it. */
  estimatedBytes(): number {
    const filterBytes = Math.ceil((this.hashCount * this.options.bloomBitsPerKey) / 8);
    return this.offset + this.dataBlock.estimatedBytes() + this.rangeTombstoneBytes + this.indexBlock.estimatedBytes() + filterBytes + FOOTER_BYTES;
  }

  get entries(): number {
    return this.stats.entries;
  }

  /**
   * Writes the last data block, the range deletion, filter, properties and index blocks and
   * the footer. REQUIRES: at least one entry or range tombstone (a table needs a key range).
   */
  finish(): TableMetadata {
    assert(this.state === 'open', `TableBuilder.finish on a ${this.state} builder`);
    assert(this.stats.entries > 0 || this.rangeTombstones.length > 0, 'TableBuilder.finish needs at least one entry or range tombstone');
    if (!this.dataBlock.empty()) this.flushDataBlock();
    if (this.pendingHandle) this.addIndexEntry(this.shortSuccessor());
    const rangeDelHandle = this.writeBlock(this.rangeDeletionBlock());
    const bits = this.options.bloomBitsPerKey;
    const filter = bits > 0 ? buildBloomFilterFromHashes(this.hashes, this.hashCount, bits) : new Uint8Array(0);
    const filterHandle = this.writeBlock(filter);
    const index = this.indexBlock.finish();
    const [smallest, largest] = this.bounds();
    const rangeTombstones = this.rangeTombstones.length;
    const properties: TableProperties = { ...this.stats, smallest, largest, filterBytes: filter.length, indexBytes: index.length, rangeTombstones };
    const propertiesHandle = this.writeBlock(encodeProperties(properties));
    const indexHandle = this.writeBlock(index);
    this.writeFooter({ rangeDel: rangeDelHandle, filter: filterHandle, properties: propertiesHandle, index: indexHandle, formatVersion: TABLE_FORMAT_VERSION });
    this.state = 'finished';
    const { entries, tombstones, seqMin, seqMax } = this.stats;
    return { fileBytes: this.offset, entries, tombstones, rangeTombstones, smallest, largest, seqMin, seqMax };
  }

  /** The range tombstones, sorted, as a block of (start ++ trailer(seq, RangeDelete)) -> end entries. */
  private rangeDeletionBlock(): Uint8Array {
    const list = this.rangeTombstones.sort(compareTombstones);
    if (list.length === 0) return new Uint8Array(0);
    const block = new BlockBuilder(DATA_RESTART_INTERVAL);
    for (let i = 0; i < list.length; i++) {
      const t = list[i]!;
      if (i > 0 && compareTombstones(list[i - 1]!, t) === 0) assert(false, `two range tombstones share start and seq ${t.seq}`);
      const key = encodeInternalKey(t.start, t.seq, ValueKind.RangeDelete);
      block.add(key, key.length, t.end);
    }
    return block.finish().slice();
  }

  /** The table's smallest and largest keys, over entries and range tombstones (file comment). */
  private bounds(): [InternalKey, InternalKey] {
    let smallest = this.smallest;
    let largest = this.stats.entries > 0 ? this.lastInternalKey() : undefined;
    for (const t of this.rangeTombstones) {
      if (smallest === undefined || compareBytes(t.start, smallest.userKey) < 0) smallest = { userKey: t.start.slice(), seq: t.seq, kind: ValueKind.RangeDelete };
      if (largest === undefined || compareBytes(t.end, largest.userKey) > 0) largest = upperBound(t);
    }
    return [smallest!, largest!];
  }

  /** Stops building; the file keeps whatever was appended (the caller removes it). */
  abandon(): void {
    assert(this.state === 'open', `TableBuilder.abandon on a ${this.state} builder`);
    this.state = 'abandoned';
  }

  private writeFooter(footer: Footer): void {
    for (const h of [footer.rangeDel, footer.filter, footer.properties, footer.index]) assert(h.size <= META_BLOCK_BYTES_MAX, `meta block of ${h.size} bytes is too large`);
    const bytes = encodeFooter(footer);
    // Assert right before writing: the footer must decode to what we meant.
    const check = decodeFooter(bytes, this.offset + FOOTER_BYTES, this.file.path);
    assert(check.index.offset === footer.index.offset && check.rangeDel.size === footer.rangeDel.size, 'footer does not decode to its own handles');
    this.emit(bytes);
    this.offset += FOOTER_BYTES;
    this.flushOutput();
  }

  private flushDataBlock(): void {
    this.pendingHandle = this.writeBlock(this.dataBlock.finish());
    this.dataBlock.reset();
    this.stats.dataBlocks++;
  }

  private writeBlock(contents: Uint8Array): BlockHandle {
    // The block and its checksum trailer, as sealBlock() would lay them out, without the copy.
    this.emit(contents);
    new DataView(this.trailer.buffer).setUint32(0, crc32c(contents), true);
    this.emit(this.trailer);
    const handle = { offset: this.offset, size: contents.length };
    this.offset += contents.length + BLOCK_TRAILER_BYTES;
    return handle;
  }

  /** Queues bytes for the file, appending the buffer whenever it fills. */
  private emit(bytes: Uint8Array): void {
    if (this.outputUsed + bytes.length > this.output.length) {
      this.flushOutput();
      if (bytes.length > this.output.length) {
        this.file.append(bytes);
        return;
      }
    }
    this.output.set(bytes, this.outputUsed);
    this.outputUsed += bytes.length;
  }

  private flushOutput(): void {
    if (this.outputUsed === 0) return;
    // append() is synchronous and done with the bytes when it returns, so the buffer is reused.
    this.file.append(this.output.subarray(0, this.outputUsed));
    this.outputUsed = 0;
  }

  private addIndexEntry(separatorLength: number): void {
    const handleLength = encodeBlockHandle(this.handleScratch, 0, this.pendingHandle!);
    this.indexBlock.add(this.separator, separatorLength, this.handleScratch.subarray(0, handleLength));
    this.pendingHandle = undefined;
  }

  /**
   * Writes into `separator` a key >= lastKey and < key (the first key of the next block);
   * returns its length. A shortened user key gets the trailer that sorts first for it.
   */
  private shortestSeparator(): number {
    const a = this.lastKey;
    const b = this.key;
    const aUser = this.lastKeyLength - TRAILER_BYTES;
    const bUser = this.keyLength - TRAILER_BYTES;
    const n = Math.min(aUser, bUser);
    let diff = 0;
    while (diff < n && a[diff] === b[diff]) diff++;
    if (diff < n && a[diff]! < 0xff && a[diff]! + 1 < b[diff]!) {
      return this.writeSeparator(a, diff, a[diff]! + 1);
    }
    return this.writeSeparator(a, this.lastKeyLength, -1);
  }

  /** After the last block: a short key >= the last key (its first non-0xff byte incremented). */
  private shortSuccessor(): number {
    // Called from finish(), when the last key added is `key` (add() swaps before encoding).
    const userLength = this.keyLength - TRAILER_BYTES;
    for (let i = 0; i < userLength; i++) {
      if (this.key[i] !== 0xff) return this.writeSeparator(this.key, i, this.key[i]! + 1);
    }
    return this.writeSeparator(this.key, this.keyLength, -1);
  }

  /** separator := source[0, prefix) ++ byte ++ (SEQ_MAX, KIND_SEEK) trailer, or source[0, prefix) when byte < 0. */
  private writeSeparator(source: Uint8Array, prefix: number, byte: number): number {
    const length = byte < 0 ? prefix : prefix + 1 + TRAILER_BYTES;
    if (this.separator.length < length) this.separator = new Uint8Array(length * 2);
    this.separator.set(source.subarray(0, prefix), 0);
    if (byte < 0) return length;
    this.separator[prefix] = byte;
    writeTrailer(this.separator, prefix + 1, SEQ_MAX, KIND_SEEK);
    return length;
  }

  /** Makes the spare key (in `lastKey`) the current one, and the current one the last. */
  private swapKeys(): void {
    const spare = this.lastKey;
    const spareLength = this.lastKeyLength;
    this.lastKey = this.key;
    this.lastKeyLength = this.keyLength;
    this.key = spare;
    this.keyLength = spareLength;
  }

  /** Encodes the incoming key into `lastKey`, whose old contents are no longer needed. */
  private encodeSpareKey(userKey: Uint8Array, seq: number, kind: ValueKind): void {
    const length = userKey.length + TRAILER_BYTES;
    if (this.lastKey.length < length) this.lastKey = new Uint8Array(length * 2);
    const spare = this.lastKey;
    // A loop for short keys: set() calls into the runtime, which costs more than a few bytes.
    if (userKey.length > 32) spare.set(userKey, 0);
    else for (let i = 0; i < userKey.length; i++) spare[i] = userKey[i]!;
    writeTrailer(spare, userKey.length, seq, kind);
    this.lastKeyLength = length;
  }

  private sameUserKeyAsLast(userKeyLength: number): boolean {
    if (this.lastKeyLength - TRAILER_BYTES !== userKeyLength) return false;
    for (let i = 0; i < userKeyLength; i++) if (this.key[i] !== this.lastKey[i]) return false;
    return true;
  }

  private addHash(hash: number): void {
    if (this.hashCount === this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.hashCount++] = hash;
  }

  private count(seq: number, kind: ValueKind, valueBytes: number): void {
    const s = this.stats;
    s.entries++;
    if (kind === ValueKind.Delete) s.tombstones++;
    if (seq < s.seqMin) s.seqMin = seq;
    if (seq > s.seqMax) s.seqMax = seq;
    s.rawKeyBytes += this.keyLength;
    s.rawValueBytes += valueBytes;
  }

  private lastInternalKey(): InternalKey {
    const key = this.key.subarray(0, this.keyLength);
    return { userKey: key.slice(0, this.keyLength - TRAILER_BYTES), seq: seqOf(key), kind: kindOf(key) };
  }
}
