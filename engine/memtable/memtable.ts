/**
 * The memtable: recent writes in a skiplist, with their memory accounted in bytes so the
 * engine knows when to freeze it and flush it to an L0 table.
 * Byte accounting: key and value bytes plus NODE_OVERHEAD_BYTES per entry, what an entry
 * costs beyond them: its share of the skiplist's columns (about 61 bytes: 12 int32 fields,
 * a float64 sequence number, 4/3 links) and of its batch record's header and varints (3-4
 * bytes for a batch of many ops). Measured with 16-byte keys and 100-byte values, columns
 * sized for the entries (the engine passes the last memtable's count): 181 bytes of heap and
 * buffers per entry against 180 accounted. It was 96 while the columns grew by doubling and
 * could be half empty; see docs/decisions.md.
 * Range tombstones sit beside the skiplist in a list, fragmented (range-tombstones.ts) when a
 * read first needs them after a change; a memtable without any costs reads nothing.
 */
import { ValueKind, SEQ_MAX } from '../internal-key.ts';
import type { InternalIterator } from '../internal-iterator.ts';
import { FragmentedTombstones, type RangeTombstone } from '../range-tombstones.ts';
import { NIL, SkipList } from './skiplist.ts';

export const NODE_OVERHEAD_BYTES = 64;

export interface MemtableEntry {
  seq: number;
  kind: ValueKind;
  value: Uint8Array;
}

export class Memtable {
  private readonly list: SkipList;
  private readonly tombstones: RangeTombstone[] = [];
  /** `tombstones` fragmented; undefined after a change until a read needs it. */
  private fragments: FragmentedTombstones | undefined = FragmentedTombstones.EMPTY;
  /** Approximate memory used, in bytes. */
  bytes = 0;
  /** Highest sequence number inserted (0 when empty). */
  seqMax = 0;
  /**
   * `walNumber`: the WAL file that holds this memtable's writes. `expectedEntries`: how many
   * entries it will likely hold (the previous memtable's count), to size the skiplist once.
   */
  constructor(
    readonly walNumber: number,
    expectedEntries = 0,
  ) {
    this.list = new SkipList(Math.random, expectedEntries);
  }

  /** Point entries (range tombstones are counted apart). */
  get count(): number {
    return this.list.count;
  }

  get isEmpty(): boolean {
    return this.list.count === 0 && this.tombstones.length === 0;
  }

  /** Range tombstones, as added (views of their batches' buffers). */
  get rangeTombstones(): readonly RangeTombstone[] {
    return this.tombstones;
  }

  add(userKey: Uint8Array, seq: number, kind: ValueKind, value: Uint8Array): void {
    this.addFrom(userKey, 0, userKey.length, seq, kind, value, 0, value.length);
  }

  /** add() of a key and value lying in `bytes` (a WAL record), without making views of them. */
  addFrom(bytes: Uint8Array, keyAt: number, keyLength: number, seq: number, kind: ValueKind, valueBytes: Uint8Array, valueAt: number, valueLength: number): void {
    if (kind === ValueKind.RangeDelete) {
      this.addRangeTombstone({ start: bytes.subarray(keyAt, keyAt + keyLength), end: valueBytes.subarray(valueAt, valueAt + valueLength), seq });
      return;
    }
    this.list.insertFrom(bytes, keyAt, keyLength, seq, kind, valueBytes, valueAt, valueLength);
    this.bytes += keyLength + valueLength + NODE_OVERHEAD_BYTES;
    if (seq > this.seqMax) this.seqMax = seq;
  }

  private addRangeTombstone(t: RangeTombstone): void {
    this.tombstones.push(t);
    this.fragments = undefined;
    this.bytes += t.start.length + t.end.length + NODE_OVERHEAD_BYTES;
    if (t.seq > this.seqMax) this.seqMax = t.seq;
  }

  /** The newest range tombstone at or below `seq` covering `userKey`; 0 when none. */
  rangeTombstoneSeq(userKey: Uint8Array, seq: number): number {
    if (this.tombstones.length === 0) return 0;
    this.fragments ??= FragmentedTombstones.from(this.tombstones);
    return this.fragments.coveringSeq(userKey, seq);
  }

  /** The newest entry for `userKey` with seq <= `seq`, or undefined if this memtable has none. */
  get(userKey: Uint8Array, seq: number = SEQ_MAX): MemtableEntry | undefined {
    const list = this.list;
    const node = list.findGreaterOrEqual(userKey, seq, ValueKind.Put);
    if (node === NIL || !list.hasUserKey(node, userKey)) return undefined;
    return { seq: list.seq(node), kind: list.kind(node), value: list.value(node) };
  }

  iterator(): InternalIterator {
    return new MemtableIterator(this.list);
  }
}

/** A cursor over the skiplist's nodes; keys and values are views of their batches' buffers. */
class MemtableIterator implements InternalIterator {
  private node = NIL;
  constructor(private readonly list: SkipList) {}

  valid(): boolean {
    return this.node !== NIL;
  }
  seekToFirst(): void {
    this.node = this.list.first();
  }
  seekToLast(): void {
    this.node = this.list.last();
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
    this.node = this.list.next(this.node);
  }
  prev(): void {
    this.node = this.list.previous(this.node);
  }
  userKey(): Uint8Array {
    return this.list.userKey(this.node);
  }
  seq(): number {
    return this.list.seq(this.node);
  }
  kind(): ValueKind {
    return this.list.kind(this.node);
  }
  value(): Uint8Array {
    return this.list.value(this.node);
  }
}
