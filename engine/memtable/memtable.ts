/**
 * The memtable: recent writes in a skiplist, with their memory accounted in bytes so the
 * engine knows when to freeze it and flush it to an L0 table.
 * Byte accounting: key and value bytes plus NODE_OVERHEAD_BYTES per entry, an estimate of a
 * node's object, its next-pointer array and the typed-array headers in V8.
 */
import { ValueKind, SEQ_MAX } from '../internal-key.ts';
import type { InternalIterator } from '../internal-iterator.ts';
import { bytesEqual } from '../util/bytes.ts';
import { SkipList, type SkipNode } from './skiplist.ts';

export const NODE_OVERHEAD_BYTES = 96;

export interface MemtableEntry {
  seq: number;
  kind: ValueKind;
  value: Uint8Array;
}

export class Memtable {
  private readonly list = new SkipList();
  /** Approximate memory used, in bytes. */
  bytes = 0;
  /** Highest sequence number inserted (0 when empty). */
  seqMax = 0;
  /** Number of the WAL file that holds this memtable's writes. */
  constructor(readonly walNumber: number) {}

  get count(): number {
    return this.list.count;
  }

  add(userKey: Uint8Array, seq: number, kind: ValueKind, value: Uint8Array): void {
    this.list.insert(userKey, seq, kind, value);
    this.bytes += userKey.length + value.length + NODE_OVERHEAD_BYTES;
    if (seq > this.seqMax) this.seqMax = seq;
  }

  /** The newest entry for `userKey` with seq <= `seq`, or undefined if this memtable has none. */
  get(userKey: Uint8Array, seq: number = SEQ_MAX): MemtableEntry | undefined {
    const node = this.list.findGreaterOrEqual(userKey, seq, ValueKind.Put);
    if (node === null || !bytesEqual(node.userKey, userKey)) return undefined;
    return node;
  }

  iterator(): InternalIterator {
    return new MemtableIterator(this.list);
  }
}

class MemtableIterator implements InternalIterator {
  private node: SkipNode | null = null;
  constructor(private readonly list: SkipList) {}

  valid(): boolean {
    return this.node !== null;
  }
  seekToFirst(): void {
    this.node = this.list.head.next[0]!;
  }
  seekToLast(): void {
    this.node = this.list.findLast();
  }
  seek(userKey: Uint8Array, seq: number): void {
    this.node = this.list.findGreaterOrEqual(userKey, seq, ValueKind.Put);
  }
  seekForPrev(userKey: Uint8Array): void {
    // The last entry <= (userKey, 0, Delete) is the one before the first entry > it; every
    // version of userKey sorts before (userKey, -1), so search for that.
    this.node = this.list.findLessThan(userKey, -1, 0);
  }
  next(): void {
    this.node = this.node!.next[0]!;
  }
  prev(): void {
    const n = this.node!;
    this.node = this.list.findLessThan(n.userKey, n.seq, n.kind);
  }
  userKey(): Uint8Array {
    return this.node!.userKey;
  }
  seq(): number {
    return this.node!.seq;
  }
  kind(): ValueKind {
    return this.node!.kind;
  }
  value(): Uint8Array {
    return this.node!.value;
  }
}
