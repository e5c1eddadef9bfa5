/**
 * Reads one SSTable. `open` reads and verifies the footer, then the range deletion, filter,
 * properties and index blocks, which stay in memory for the reader's life (LevelDB does the same: a lookup
 * must not pay a disk read for the index). Data blocks are read on demand, verified, and
 * shared through the optional BlockCache.
 *
 * Lookups: `get` asks the bloom filter first and reads no data block on a negative; it then
 * binary-searches the index (decoded at open for this, point-index.ts) and one data block (occasionally two, when the target falls
 * between a block's last key and its separator). The counters in `stats` say how often.
 *
 * A full check of a table (every block re-read) is table-verify.ts's `verifyTable(reader)`,
 * which uses this reader; this file does not import it.
 *
 * Lifetime: a reader owns its ReadableFile. It starts with one reference (the opener's);
 * `ref()`/`unref()` let a table cache evict a reader that an iterator still uses: the file
 * closes when the last reference goes. Using a closed reader is a bug (asserted).
 *
 * Concurrency: synchronous; one reader may serve any number of iterators, but its `get`
 * reuses scratch cursors, so it must not be re-entered (nothing here awaits, so it is not).
 */
import { assert, CorruptionError } from '../errors.ts';
import type { ReadableFile } from '../fs/file-system.ts';
import { KIND_SEEK, TRAILER_BYTES, ValueKind, writeTrailer } from '../internal-key.ts';
import { FragmentedTombstones, type RangeTombstone } from '../range-tombstones.ts';
import { compareBytes } from '../util/bytes.ts';
import { Block, BlockIterator } from './block.ts';
import type { BlockCache } from './block-cache.ts';
import { bloomMayContain } from './bloom.ts';
import {
  BLOCK_TRAILER_BYTES,
  type BlockHandle,
  checkHandle,
  decodeBlockHandle,
  decodeFooter,
  FOOTER_BYTES,
  type Footer,
  footerBytes,
  unsealBlock,
  unsealBlockInPlace,
} from './table-format.ts';
import { PointIndex } from './point-index.ts';
import { TableIterator } from './table-iterator.ts';
import { decodeProperties, type TableProperties } from './table-properties.ts';

/** Counters a caller may read (and share between readers by passing one object to open). */
export interface TableReadStats {
  /** get() calls that consulted the bloom filter. */
  filterProbes: number;
  /** ... of which the filter ruled the key out, saving a block read. */
  filterNegatives: number;
  /** Data blocks read from the file (cache misses or no cache). */
  blockReads: number;
  /** Data blocks found in the block cache. */
  blockCacheHits: number;
}

export function newTableReadStats(): TableReadStats {
  return { filterProbes: 0, filterNegatives: 0, blockReads: 0, blockCacheHits: 0 };
}

/**
 * One version of a key, as get() returns it. `value` is a view of a block: the reader's
 * scratch buffer, which its next read overwrites, or a cached block whose buffer the cache may
 * recycle at its next read (see BlockCache.getForLookup): copy the value before either.
 */
export interface TableEntry {
  seq: number;
  kind: ValueKind;
  value: Uint8Array;
}

/**
 * @example
 * ```ts
 * const reader = TableReader.open(fs.openReadable('/db/000012.sst'), 12, blockCache);
 * const entry = reader.get(utf8('apple'), snapshotSeq); // { seq, kind, value } | undefined
 * const it = reader.iterator();
 * for (it.seekToFirst(); it.valid(); it.next()) use(it.userKey(), it.value());
 * reader.close();
 * ```
 */
export class TableReader {
  /** The decoded index block: separator keys to data block handles. */
  readonly index: Block;
  /** Undefined when the table was written with bloomBitsPerKey 0. */
  readonly filter: Uint8Array | undefined;
  /** The range tombstones as stored (start ascending, newest first); views of their block. */
  readonly rangeTombstones: readonly RangeTombstone[];
  private readonly fragments: FragmentedTombstones;
  private refs = 1;
  /** The index decoded for point lookups (see point-index.ts). */
  private readonly pointIndex: PointIndex;
  private dataCursor: BlockIterator | undefined;
  private readonly handle: BlockHandle = { offset: 0, size: 0 };
  private target = new Uint8Array(64);
  /** Where point lookups read blocks the cache did not admit; grows to the largest block. */
  private scratch = new Uint8Array(0);
  /** See setReadahead: the last chunk read ahead, and where in the file it starts. */
  private readaheadBytes = 0;
  private chunk = new Uint8Array(0);
  private chunkOffset = 0;

  private constructor(
    readonly file: ReadableFile,
    readonly fileNumber: number,
    readonly footer: Footer,
    readonly properties: TableProperties,
    filter: Uint8Array,
    index: Block,
    rangeTombstones: RangeTombstone[],
    private readonly cache: BlockCache | undefined,
    readonly stats: TableReadStats,
  ) {
    this.filter = filter.length > 0 ? filter : undefined;
    this.rangeTombstones = rangeTombstones;
    this.fragments = FragmentedTombstones.from(rangeTombstones);
    this.index = index;
    this.pointIndex = PointIndex.decode(index, file.path);
  }

  /** Opens a table, verifying footer, filter, properties and index; CorruptionError if any is bad. */
  static open(file: ReadableFile, fileNumber: number, cache?: BlockCache, stats: TableReadStats = newTableReadStats()): TableReader {
    const path = file.path;
    const size = file.size;
    const tail = file.read(Math.max(0, size - FOOTER_BYTES), Math.min(size, FOOTER_BYTES));
    const footer = decodeFooter(tail, size, path);
    checkLayout(footer, size, path);
    const rangeTombstones = footer.rangeDel.size > 0 ? decodeRangeTombstones(readBlockContents(file, footer.rangeDel, 'range deletion block'), footer.rangeDel.offset, path) : [];
    const filter = readBlockContents(file, footer.filter, 'filter block');
    const properties = decodeProperties(readBlockContents(file, footer.properties, 'properties block'), path);
    const index = Block.decode(readBlockContents(file, footer.index, 'index block'), path, footer.index.offset, 'index block');
    if (properties.filterBytes !== filter.length || properties.indexBytes !== footer.index.size || properties.rangeTombstones !== rangeTombstones.length) {
      throw new CorruptionError('sst: properties disagree with the footer about block sizes', { file: path });
    }
    return new TableReader(file, fileNumber, footer, properties, filter, index, rangeTombstones, cache, stats);
  }

  get path(): string {
    return this.file.path;
  }

  /** Where the data blocks end (the range deletion block, or in version 1 the filter, follows them). */
  get dataEnd(): number {
    return this.footer.rangeDel.offset;
  }

  /** The newest range tombstone at or below `seq` covering `userKey`; 0 when none. */
  rangeTombstoneSeq(userKey: Uint8Array, seq: number): number {
    return this.fragments.count === 0 ? 0 : this.fragments.coveringSeq(userKey, seq);
  }

  /** False means the table certainly holds no version of `userKey`. */
  mayContain(userKey: Uint8Array): boolean {
    return this.filter === undefined || bloomMayContain(this.filter, userKey);
  }

  /**
   * The newest entry for `userKey` with entry.seq <= seq (a tombstone included), or undefined.
   * The value may view this reader's scratch buffer or a recyclable cached block: copy it
   * before the next read through this reader or its block cache.
   */
  get(userKey: Uint8Array, seq: number): TableEntry | undefined {
    this.assertOpen();
    if (this.filter !== undefined) {
      this.stats.filterProbes++;
      if (!bloomMayContain(this.filter, userKey)) {
        this.stats.filterNegatives++;
        return undefined;
      }
    }
    const targetLength = this.encodeTarget(userKey, seq, KIND_SEEK);
    const index = this.pointIndex;
    // Usually one pass; a second when the target lies past the block's last key but not past
    // its separator, so the answer is the next block's first entry.
    for (let i = index.lowerBound(this.target, targetLength); i < index.count; i++) {
      const data = this.cursorFor(this.readPointBlock(index.handle(i, this.handle)));
      data.seek(this.target, targetLength);
      if (!data.valid()) continue;
      if (!sameUserKey(data, userKey)) return undefined;
      return { seq: data.seq(), kind: data.kind(), value: data.value() };
    }
    return undefined;
  }

  /** A two-level iterator over the whole table; see table-iterator.ts. */
  iterator(): TableIterator {
    this.assertOpen();
    return new TableIterator(this);
  }

  /** The data block handle in the index cursor's current value; CorruptionError if malformed. */
  handleAt(index: BlockIterator, out: BlockHandle = this.handle): BlockHandle {
    const data = index.block.data;
    if (decodeBlockHandle(data, index.valueOffset, index.valueOffset + index.valueLength, out) < 0) {
      throw new CorruptionError(`sst: index entry at byte ${index.entryOffset()} holds a malformed block handle`, { file: this.path });
    }
    return out;
  }

  /** A data block, from the cache or read and verified from the file. */
  readDataBlock(handle: BlockHandle): Block {
    this.assertOpen();
    const cached = this.cachedBlock(handle);
    if (cached !== undefined) return cached;
    if (this.readaheadBytes > 0 && this.cache === undefined) return this.readDataBlockAhead(handle);
    const block = this.readDataBlockUncached(handle);
    this.cache?.insert(this.fileNumber, handle.offset, block);
    return block;
  }

  /**
   * Reads data blocks in chunks of `bytes` (at least one block) when this reader has no block
   * cache: for a compaction, which reads every block once, in order. One read per chunk
   * instead of one per 4 KiB block, and blocks are views of the chunk, not buffers of their
   * own (reading and allocating per block was 15% of the compaction thread's time).
   */
  setReadahead(bytes: number): void {
    assert(Number.isInteger(bytes) && bytes >= 0, 'readahead must be a non-negative integer');
    this.readaheadBytes = bytes;
  }

  private readDataBlockAhead(handle: BlockHandle): Block {
    const length = this.startRead(handle);
    let at = handle.offset - this.chunkOffset;
    if (at < 0 || at + length > this.chunk.length) {
      const want = Math.max(length, Math.min(this.readaheadBytes, this.dataEnd - handle.offset));
      const chunk = new Uint8Array(want);
      const got = this.file.readInto(handle.offset, chunk);
      this.chunk = got === want ? chunk : chunk.subarray(0, got);
      this.chunkOffset = handle.offset;
      at = 0;
    }
    return this.decodeDataBlock(this.chunk.subarray(at, Math.min(at + length, this.chunk.length)), handle);
  }

  /**
   * A data block for a point lookup: from the cache; else, if the cache admits it (see
   * BlockCache.admitOnMiss), read and cached; else read into this reader's scratch buffer
   * and valid only until the reader's next read.
   */
  private readPointBlock(handle: BlockHandle): Block {
    const cache = this.cache;
    if (cache === undefined) return this.readIntoScratch(handle);
    const cached = cache.getForLookup(this.fileNumber, handle.offset);
    if (cached !== undefined) {
      this.stats.blockCacheHits++;
      return cached;
    }
    if (!cache.admitOnMiss(this.fileNumber, handle.offset)) return this.readIntoScratch(handle);
    // The handle is checked before a buffer is sized by it: a corrupt size is a CorruptionError, not an allocation.
    const length = this.startRead(handle);
    const block = this.readBlockInto(handle, cache.allocate(length), length);
    cache.insert(this.fileNumber, handle.offset, block, true);
    return block;
  }

  /** A data block read into this reader's scratch buffer: valid until the reader's next read. */
  private readIntoScratch(handle: BlockHandle): Block {
    const length = this.startRead(handle);
    if (this.scratch.length < length) this.scratch = new Uint8Array(Math.max(length, 2 * this.scratch.length));
    return this.readBlockInto(handle, this.scratch, length);
  }

  /** The `length` bytes (block and trailer, from startRead) of a data block read into the start of `buffer` and verified; it views `buffer`. */
  private readBlockInto(handle: BlockHandle, buffer: Uint8Array, length: number): Block {
    const read = this.file.readInto(handle.offset, buffer, length);
    const contents = unsealBlockInPlace(buffer, read, handle, 'data block', this.path);
    return Block.decode(contents, this.path, handle.offset, 'data block');
  }

  /** A data block read and verified from the file, bypassing the cache (verify, sst-dump). */
  readDataBlockUncached(handle: BlockHandle): Block {
    const length = this.startRead(handle);
    return this.decodeDataBlock(this.file.read(handle.offset, length), handle);
  }

  /** The cached block at `handle`, counting the hit, or undefined. */
  private cachedBlock(handle: BlockHandle): Block | undefined {
    const cached = this.cache?.get(this.fileNumber, handle.offset);
    if (cached !== undefined) this.stats.blockCacheHits++;
    return cached;
  }

  /** Checks a data block's handle and counts the read; returns the bytes to read (block and trailer). */
  private startRead(handle: BlockHandle): number {
    checkHandle(handle, this.dataEnd, 'an index entry', this.path);
    this.stats.blockReads++;
    return handle.size + BLOCK_TRAILER_BYTES;
  }

  /** The data block in `raw` (what was read for `handle`), its checksum verified. */
  private decodeDataBlock(raw: Uint8Array, handle: BlockHandle): Block {
    return Block.decode(unsealBlock(raw, handle, 'data block', this.path), this.path, handle.offset, 'data block');
  }

  ref(): void {
    this.assertOpen();
    this.refs++;
  }

  /** Drops a reference; the file closes with the last one. */
  unref(): void {
    this.assertOpen();
    if (--this.refs === 0) this.file.close();
  }

  /** Drops the opener's reference (the same as unref, named for callers that opened it). */
  close(): void {
    this.unref();
  }

  get closed(): boolean {
    return this.refs === 0;
  }

  private assertOpen(): void {
    // `if` first: the message would otherwise be built on every lookup.
    if (this.refs <= 0) assert(false, `table ${this.path} used after close`);
  }

  private cursorFor(block: Block): BlockIterator {
    if (this.dataCursor === undefined) this.dataCursor = block.iterator();
    else this.dataCursor.reset(block);
    return this.dataCursor;
  }

  private encodeTarget(userKey: Uint8Array, seq: number, kind: ValueKind): number {
    const length = userKey.length + TRAILER_BYTES;
    if (this.target.length < length) this.target = new Uint8Array(length * 2);
    this.target.set(userKey, 0);
    writeTrailer(this.target, userKey.length, seq, kind);
    return length;
  }
}

/** Reads a block and its trailer and verifies the checksum; returns the contents. */
export function readBlockContents(file: ReadableFile, handle: BlockHandle, what: string): Uint8Array {
  const raw = file.read(handle.offset, handle.size + BLOCK_TRAILER_BYTES);
  return unsealBlock(raw, handle, what, file.path);
}

/** The footer's blocks must tile the end of the file: (range deletion,) filter, properties, index, footer. */
function checkLayout(footer: Footer, size: number, file: string): void {
  const end = (h: BlockHandle) => h.offset + h.size + BLOCK_TRAILER_BYTES;
  const rangeDelOk = footer.formatVersion === 1 || end(footer.rangeDel) === footer.filter.offset;
  if (!rangeDelOk || end(footer.filter) !== footer.properties.offset || end(footer.properties) !== footer.index.offset || end(footer.index) !== size - footerBytes(footer.formatVersion)) {
    throw new CorruptionError('sst: footer handles do not tile the end of the file', { file });
  }
}

/**
 * The range deletion block's tombstones, checked: each entry's key is (start, seq,
 * RangeDelete), its value the end, start < end, in strictly ascending order.
 */
export function decodeRangeTombstones(contents: Uint8Array, offset: number, file: string): RangeTombstone[] {
  const block = Block.decode(contents, file, offset, 'range deletion block');
  const it = block.iterator();
  const out: RangeTombstone[] = [];
  const bad = (why: string): never => {
    throw new CorruptionError(`sst: range deletion block at offset ${offset} is malformed: ${why}`, { file });
  };
  let lastKey: Uint8Array | undefined;
  for (it.seekToFirst(); it.valid(); it.next()) {
    if (it.kind() !== ValueKind.RangeDelete) bad(`entry ${out.length} has kind ${it.kind()}`);
    const key = it.key.slice(0, it.keyLength);
    if (lastKey !== undefined && it.compareKey(lastKey, lastKey.length) <= 0) bad(`entry ${out.length} is out of order`);
    lastKey = key;
    const start = it.userKey();
    const end = it.value();
    if (compareBytes(start, end) >= 0) bad(`entry ${out.length} does not start below its end`);
    out.push({ start, end, seq: it.seq() });
  }
  return out;
}

function sameUserKey(cursor: BlockIterator, userKey: Uint8Array): boolean {
  const length = cursor.userKeyLength();
  if (length !== userKey.length) return false;
  const key = cursor.key;
  for (let i = 0; i < length; i++) if (key[i] !== userKey[i]) return false;
  return true;
}
