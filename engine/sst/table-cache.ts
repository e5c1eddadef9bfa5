/**
 * A bounded LRU of open TableReaders (at most `capacityFiles`), opened by file number through
 * a callback, so the engine never holds more file descriptors than options.tableCacheFilesMax.
 *
 * References: the cache holds one reference to each reader it keeps. `acquire` hands out
 * another, which the caller must `release`, so a reader evicted (or whose file was deleted)
 * while an iterator still reads it stays open until that iterator is done. `get` is a
 * shorthand for one synchronous lookup that needs no reference.
 *
 * Eviction for space only closes the reader: its cached blocks stay valid, because a file
 * number names one immutable file for the database's life. `evict(fileNumber)`, called when
 * a table file is deleted, also drops the file's blocks from the block cache.
 */
import { assert } from '../errors.ts';
import type { RangeTombstone } from '../range-tombstones.ts';
import type { BlockCache } from './block-cache.ts';
import type { TableEntry, TableReader } from './table-reader.ts';

/** Opens the table with this number (typically fs.openReadable + TableReader.open). */
export type TableOpener = (fileNumber: number) => TableReader;

/**
 * @example
 * ```ts
 * const tables = new TableCache(options.tableCacheFilesMax,
 *   (n) => TableReader.open(fs.openReadable(tablePath(n)), n, blockCache), blockCache);
 * const hit = tables.get(12, utf8('apple'), seq);
 * const reader = tables.acquire(12); // for an iterator; tables.release(reader) when done
 * ```
 */
export class TableCache {
  /**
   * Open readers and when each was last used. Recency is a counter stamped on each use, and
   * eviction scans for the smallest: a hit costs one store, where re-inserting into the Map to
   * keep insertion order as recency was 4-6% of a point lookup's samples in a CPU profile;
   * a miss opens a table anyway, which costs far more than the scan.
   */
  private readonly readers = new Map<number, { reader: TableReader; used: number }>();
  private clock = 0;
  hits = 0;
  opens = 0;

  constructor(
    readonly capacityFiles: number,
    private readonly open: TableOpener,
    private readonly blockCache?: BlockCache,
  ) {
    assert(Number.isInteger(capacityFiles) && capacityFiles >= 1, `table cache capacity ${capacityFiles} must be a positive integer`);
  }

  get size(): number {
    return this.readers.size;
  }

  /** The open reader for a file, with a reference the caller must release(). */
  acquire(fileNumber: number): TableReader {
    const reader = this.lookup(fileNumber);
    reader.ref();
    return reader;
  }

  release(reader: TableReader): void {
    reader.unref();
  }

  /** One point lookup in one table, without keeping a reference. */
  get(fileNumber: number, userKey: Uint8Array, seq: number): TableEntry | undefined {
    return this.lookup(fileNumber).get(userKey, seq);
  }

  /** The newest range tombstone at or below `seq` covering `userKey` in one table; 0 when none. */
  rangeTombstoneSeq(fileNumber: number, userKey: Uint8Array, seq: number): number {
    return this.lookup(fileNumber).rangeTombstoneSeq(userKey, seq);
  }

  /** One table's range tombstones (they stay valid after the reader closes). */
  rangeTombstones(fileNumber: number): readonly RangeTombstone[] {
    return this.lookup(fileNumber).rangeTombstones;
  }

  /** Forgets a deleted file: closes its reader (once unreferenced) and drops its blocks. */
  evict(fileNumber: number): void {
    const entry = this.readers.get(fileNumber);
    if (entry) {
      this.readers.delete(fileNumber);
      entry.reader.unref();
    }
    this.blockCache?.evictFile(fileNumber);
  }

  /** Drops every reader (each closes once its last acquirer releases it). */
  close(): void {
    for (const { reader } of this.readers.values()) reader.unref();
    this.readers.clear();
  }

  /** The cached reader, marked most recent, or a newly opened one (evicting the oldest). */
  private lookup(fileNumber: number): TableReader {
    const cached = this.readers.get(fileNumber);
    if (cached) {
      this.hits++;
      cached.used = ++this.clock;
      return cached.reader;
    }
    const reader = this.open(fileNumber);
    this.opens++;
    assert(reader.fileNumber === fileNumber, `opener returned table ${reader.fileNumber} for ${fileNumber}`);
    this.readers.set(fileNumber, { reader, used: ++this.clock });
    if (this.readers.size > this.capacityFiles) this.evictLeastRecent();
    return reader;
  }

  private evictLeastRecent(): void {
    let oldest: number | undefined;
    let oldestUse = Infinity;
    for (const [number, entry] of this.readers) {
      if (entry.used < oldestUse) {
        oldestUse = entry.used;
        oldest = number;
      }
    }
    const entry = this.readers.get(oldest!)!;
    this.readers.delete(oldest!);
    entry.reader.unref();
  }
}
