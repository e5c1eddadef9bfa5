/**
 * An LRU cache of decoded, checksum-verified blocks, keyed by (file number, block offset),
 * holding at most `capacityBytes` of block charge (see Block.charge).
 *
 * Why keyed by file number: table files are immutable and their numbers are never reused
 * within a database, so a cached block stays correct for as long as the file exists, across
 * table-cache evictions and reopenings. When a table file is deleted its blocks are dropped
 * with `evictFile` rather than left to age out. One cache serves one database: two databases
 * sharing a cache would collide on file numbers.
 *
 * Shape: a map per file (so evictFile touches only that file's blocks) plus an intrusive
 * doubly-linked recency list; every operation is O(1) except evictFile, O(file's blocks).
 * Synchronous and single-threaded; a block is inserted after it was verified.
 *
 * Admission for point lookups (`admitOnMiss`): a get that misses reads its block into a
 * scratch buffer and caches it only on the block's second miss within a while, as 2Q's ghost
 * list does. Caching costs a fresh buffer per block, and making and collecting one measured
 * 2.3 µs, twice the 4 KiB read itself; when the data is much larger than the cache nearly
 * every block read once is evicted unread, so uniform random gets would pay that for
 * nothing, while a block read twice is worth keeping. The ghost memory is a direct-mapped
 * table of recently missed (file, offset) pairs, twice as many slots as the cache has 4 KiB
 * blocks: a collision only forgets a miss, so the cost of being wrong is one more read.
 * Iterators fill the cache unconditionally (they hold the block while they walk it anyway).
 *
 * Recycled buffers: a block a point lookup admitted is read into a buffer from `allocate`,
 * and when it is evicted, that buffer is reused for the next admitted block, unless the block
 * was ever handed to an iterator (`get`, which may keep it): a point lookup (`getForLookup`)
 * uses its block only until it copies the value out, before the next read through this cache.
 * Making and collecting a fresh 4 KiB buffer for each admitted block was 6% of a batched
 * readrandom's samples plus most of its 10% in the garbage collector (docs/decisions.md).
 */
import { assert } from '../errors.ts';
import { GHOST_SLOTS_MAX, GHOST_SLOTS_MIN } from '../options.ts';
import type { Block } from './block.ts';

/** The block size the ghost table's sizing assumes. */
const GHOST_NOMINAL_BLOCK_BYTES = 4096;
/** Buffers from `allocate` are a multiple of this, so one fits most blocks of a table. */
const RECYCLED_BUFFER_GRAIN_BYTES = 256;
/** Evicted buffers kept for reuse; eviction produces them as fast as admission uses them. */
const RECYCLED_BUFFERS_MAX = 64;

interface Node {
  fileNumber: number;
  offset: number;
  block: Block;
  charge: number;
  /** The block's buffer came from `allocate` and no iterator was given the block. */
  recyclable: boolean;
  newer: Node | undefined;
  older: Node | undefined;
}

/**
 * @example
 * ```ts
 * const cache = new BlockCache(options.blockCacheBytes);
 * const reader = TableReader.open(file, 12, cache); // reads go through the cache
 * cache.evictFile(12); // after deleting 000012.sst
 * ```
 */
export class BlockCache {
  private readonly byFile = new Map<number, Map<number, Node>>();
  /** Most recently used end of the recency list. */
  private newest: Node | undefined;
  /** Least recently used end: the next to evict. */
  private oldest: Node | undefined;
  private used = 0;
  private count = 0;
  /** The ghost table: slot i remembers a missed (ghostFiles[i], ghostOffsets[i]). */
  private readonly ghostFiles: Int32Array;
  private readonly ghostOffsets: Float64Array;
  /** Buffers of evicted recyclable blocks, for `allocate`. */
  private readonly spare: Uint8Array[] = [];
  hits = 0;
  misses = 0;
  evictions = 0;
  /** Point-lookup misses not cached because the block had not missed recently. */
  deferred = 0;

  constructor(readonly capacityBytes: number) {
    assert(Number.isInteger(capacityBytes) && capacityBytes >= 0, `block cache capacity ${capacityBytes} must be a non-negative integer`);
    let slots = GHOST_SLOTS_MIN;
    while (slots < (2 * capacityBytes) / GHOST_NOMINAL_BLOCK_BYTES && slots < GHOST_SLOTS_MAX) slots *= 2;
    this.ghostFiles = new Int32Array(slots).fill(-1);
    this.ghostOffsets = new Float64Array(slots);
  }

  /**
   * Whether a point lookup that missed this block should cache it: true on the block's second
   * recent miss. A first miss is remembered (and counted in `deferred`).
   */
  admitOnMiss(fileNumber: number, offset: number): boolean {
    if (this.capacityBytes === 0) return false;
    const slot = (Math.imul(fileNumber, 0x9e3779b1) ^ Math.imul(Math.floor(offset / 64) | 0, 0x85ebca6b)) & (this.ghostFiles.length - 1);
    if (this.ghostFiles[slot] === fileNumber && this.ghostOffsets[slot] === offset) {
      this.ghostFiles[slot] = -1;
      return true;
    }
    this.ghostFiles[slot] = fileNumber;
    this.ghostOffsets[slot] = offset;
    this.deferred++;
    return false;
  }

  /** Bytes charged by the blocks held now (never above capacityBytes). */
  get usedBytes(): number {
    return this.used;
  }

  /** Blocks held now. */
  get size(): number {
    return this.count;
  }

  /**
   * The cached block, marked most recently used; counts a hit or a miss. The caller may keep
   * the block (an iterator does), so its buffer is never recycled.
   */
  get(fileNumber: number, offset: number): Block | undefined {
    const node = this.find(fileNumber, offset);
    if (node !== undefined) node.recyclable = false;
    return node?.block;
  }

  /**
   * As get, for a point lookup. REQUIRES: the caller is done with the block (has copied what
   * it needs) before its next read through this cache, which may recycle the block's buffer.
   */
  getForLookup(fileNumber: number, offset: number): Block | undefined {
    return this.find(fileNumber, offset)?.block;
  }

  /**
   * A buffer of at least `length` bytes for a block a point lookup admits (insert it with
   * `recyclable`): an evicted block's, or a new one. Its contents are stale.
   */
  allocate(length: number): Uint8Array {
    const spare = this.spare;
    if (spare.length > 0 && spare[spare.length - 1]!.length >= length) return spare.pop()!;
    return new Uint8Array(Math.ceil(length / RECYCLED_BUFFER_GRAIN_BYTES) * RECYCLED_BUFFER_GRAIN_BYTES);
  }

  private find(fileNumber: number, offset: number): Node | undefined {
    const node = this.byFile.get(fileNumber)?.get(offset);
    if (node === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.unlink(node);
    this.pushNewest(node);
    return node;
  }

  /**
   * Caches a block, evicting the least recently used until the budget holds. `recyclable`:
   * the block views a buffer from `allocate`, whose bytes may be reused once it is evicted.
   */
  insert(fileNumber: number, offset: number, block: Block, recyclable = false): void {
    // A recyclable block holds its whole buffer, a little more than the block.
    const charge = recyclable ? block.charge + block.data.buffer.byteLength - block.data.byteLength : block.charge;
    // A block larger than the whole budget would only flush everything else out.
    if (charge > this.capacityBytes) return;
    let blocks = this.byFile.get(fileNumber);
    if (blocks === undefined) {
      blocks = new Map();
      this.byFile.set(fileNumber, blocks);
    }
    const existing = blocks.get(offset);
    if (existing) this.remove(existing);
    const node: Node = { fileNumber, offset, block, charge, recyclable, newer: undefined, older: undefined };
    blocks.set(offset, node);
    this.pushNewest(node);
    this.used += charge;
    this.count++;
    while (this.used > this.capacityBytes && this.oldest) {
      this.remove(this.oldest);
      this.evictions++;
    }
  }

  /** Drops every block of a file (called when the table file is deleted). */
  evictFile(fileNumber: number): void {
    const blocks = this.byFile.get(fileNumber);
    if (!blocks) return;
    for (const node of [...blocks.values()]) this.remove(node);
  }

  clear(): void {
    while (this.oldest) this.remove(this.oldest);
  }

  private remove(node: Node): void {
    this.unlink(node);
    const blocks = this.byFile.get(node.fileNumber)!;
    blocks.delete(node.offset);
    if (blocks.size === 0) this.byFile.delete(node.fileNumber);
    this.used -= node.charge;
    this.count--;
    if (node.recyclable && this.spare.length < RECYCLED_BUFFERS_MAX) {
      this.spare.push(new Uint8Array(node.block.data.buffer));
    }
  }

  private unlink(node: Node): void {
    if (node.newer) node.newer.older = node.older;
    else this.newest = node.older;
    if (node.older) node.older.newer = node.newer;
    else this.oldest = node.newer;
    node.newer = undefined;
    node.older = undefined;
  }

  private pushNewest(node: Node): void {
    node.older = this.newest;
    node.newer = undefined;
    if (this.newest) this.newest.newer = node;
    this.newest = node;
    if (!this.oldest) this.oldest = node;
  }
}
