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
 */
import { assert } from '../errors.ts';
import type { Block } from './block.ts';

interface Node {
  fileNumber: number;
  offset: number;
  block: Block;
  charge: number;
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
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(readonly capacityBytes: number) {
    assert(Number.isInteger(capacityBytes) && capacityBytes >= 0, `block cache capacity ${capacityBytes} must be a non-negative integer`);
  }

  /** Bytes charged by the blocks held now (never above capacityBytes). */
  get usedBytes(): number {
    return this.used;
  }

  /** Blocks held now. */
  get size(): number {
    return this.count;
  }

  /** The cached block, marked most recently used; counts a hit or a miss. */
  get(fileNumber: number, offset: number): Block | undefined {
    const node = this.byFile.get(fileNumber)?.get(offset);
    if (node === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.unlink(node);
    this.pushNewest(node);
    return node.block;
  }

  /** Caches a block, evicting the least recently used until the budget holds. */
  insert(fileNumber: number, offset: number, block: Block): void {
    const charge = block.charge;
    // A block larger than the whole budget would only flush everything else out.
    if (charge > this.capacityBytes) return;
    let blocks = this.byFile.get(fileNumber);
    if (blocks === undefined) {
      blocks = new Map();
      this.byFile.set(fileNumber, blocks);
    }
    const existing = blocks.get(offset);
    if (existing) this.remove(existing);
    const node: Node = { fileNumber, offset, block, charge, newer: undefined, older: undefined };
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
