/**
 * Range tombstones: `deleteRange({ gte, lt })` as data. A tombstone [start, end) at sequence
 * number t hides every version of every key k with start <= k < end whose sequence number is
 * below t, from every read at or above t. Pure code: no I/O.
 *
 * Tombstones may overlap. `FragmentedTombstones` cuts a set of them at every start and end,
 * into disjoint spans (fragments) sorted by key, each with the sequence numbers of the
 * tombstones covering all of it, newest first, so a lookup is one binary search. Memtables and
 * tables keep their tombstones as written and build fragments when read; a flush or a
 * compaction writes fragments back out, coalesced (`coalesce`), cut at its output files'
 * boundaries (`TombstoneSplitter`).
 *
 * Concurrency: none; values are immutable once built.
 */
import { SEQ_MAX, ValueKind } from './internal-key.ts';
import { compareBytes } from './util/bytes.ts';

export interface RangeTombstone {
  /** First key deleted. */
  start: Uint8Array;
  /** First key past the range (exclusive). REQUIRES: start < end. */
  end: Uint8Array;
  seq: number;
}

/** Tombstones in the order tables store them: start ascending, then newest first. */
export function compareTombstones(a: RangeTombstone, b: RangeTombstone): number {
  return compareBytes(a.start, b.start) || b.seq - a.seq;
}

/** The smallest key above `key` in bytewise order: `key` followed by a zero byte. */
export function keySuccessor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key, 0);
  return out;
}

export class FragmentedTombstones {
  /** Fragment i is [starts[i], ends[i]); fragments are disjoint and ascending. */
  private constructor(
    readonly starts: readonly Uint8Array[],
    readonly ends: readonly Uint8Array[],
    /** Sequence numbers covering fragment i, descending. */
    readonly seqs: ReadonlyArray<readonly number[]>,
  ) {}

  static readonly EMPTY = new FragmentedTombstones([], [], []);

  /** Fragments of `tombstones` (any order, overlaps allowed). */
  static from(tombstones: readonly RangeTombstone[]): FragmentedTombstones {
    if (tombstones.length === 0) return FragmentedTombstones.EMPTY;
    const byStart = [...tombstones].sort(compareTombstones);
    const bounds = uniqueSorted(tombstones.flatMap((t) => [t.start, t.end]));
    const starts: Uint8Array[] = [];
    const ends: Uint8Array[] = [];
    const seqs: number[][] = [];
    let active: RangeTombstone[] = [];
    let next = 0;
    for (let i = 0; i + 1 < bounds.length; i++) {
      const lo = bounds[i]!;
      const hi = bounds[i + 1]!;
      active = active.filter((t) => compareBytes(t.end, lo) > 0);
      while (next < byStart.length && compareBytes(byStart[next]!.start, lo) <= 0) active.push(byStart[next++]!);
      if (active.length === 0) continue;
      starts.push(lo);
      ends.push(hi);
      seqs.push(active.map((t) => t.seq).sort((a, b) => b - a));
    }
    return new FragmentedTombstones(starts, ends, seqs);
  }

  get count(): number {
    return this.starts.length;
  }

  /** The fragment holding `key`, or -1. */
  find(key: Uint8Array): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.starts[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const i = lo - 1;
    return i >= 0 && compareBytes(key, this.ends[i]!) < 0 ? i : -1;
  }

  /** The newest tombstone at or below `readSeq` covering `key`; 0 when none. */
  coveringSeq(key: Uint8Array, readSeq: number): number {
    const i = this.find(key);
    if (i < 0) return 0;
    for (const s of this.seqs[i]!) if (s <= readSeq) return s;
    return 0;
  }

  /** The oldest tombstone above `seq` covering `key`; Infinity when none. */
  newerThan(key: Uint8Array, seq: number): number {
    const i = this.find(key);
    if (i < 0) return Infinity;
    const list = this.seqs[i]!;
    let found = Infinity;
    for (const s of list) {
      if (s <= seq) break;
      found = s;
    }
    return found;
  }

  /**
   * These fragments, with only the sequence numbers `keep` accepts, as tombstones in table
   * order: a sequence number on adjacent fragments becomes one tombstone again.
   */
  coalesce(keep: (start: Uint8Array, end: Uint8Array, seqs: readonly number[], i: number) => boolean = () => true): RangeTombstone[] {
    const out: RangeTombstone[] = [];
    let open = new Map<number, RangeTombstone>();
    for (let f = 0; f < this.starts.length; f++) {
      const start = this.starts[f]!;
      const end = this.ends[f]!;
      const list = this.seqs[f]!;
      const next = new Map<number, RangeTombstone>();
      for (let i = 0; i < list.length; i++) {
        if (!keep(start, end, list, i)) continue;
        const seq = list[i]!;
        const running = open.get(seq);
        if (running !== undefined && compareBytes(running.end, start) === 0) {
          running.end = end;
          next.set(seq, running);
          open.delete(seq);
        } else next.set(seq, { start, end, seq });
      }
      for (const t of open.values()) out.push(t);
      open = next;
    }
    for (const t of open.values()) out.push(t);
    return out.sort(compareTombstones);
  }
}

function uniqueSorted(keys: Uint8Array[]): Uint8Array[] {
  keys.sort(compareBytes);
  const out: Uint8Array[] = [];
  for (const k of keys) if (out.length === 0 || compareBytes(out[out.length - 1]!, k) !== 0) out.push(k);
  return out;
}

/**
 * Hands out the parts of tombstones (in table order) that fall in consecutive spans
 * [lo, hi) of the key space, for output tables cut at those boundaries. Spans must ascend
 * and not overlap; undefined bounds are open.
 */
export class TombstoneSplitter {
  private next = 0;
  private pending: RangeTombstone[] = [];

  constructor(private readonly tombstones: readonly RangeTombstone[]) {}

  /** Tombstones not yet handed out in full. */
  get remaining(): boolean {
    return this.pending.length > 0 || this.next < this.tombstones.length;
  }

  /** The parts of the tombstones within [lo, hi), each cut to it. */
  take(lo: Uint8Array | undefined, hi: Uint8Array | undefined): RangeTombstone[] {
    while (this.next < this.tombstones.length && (hi === undefined || compareBytes(this.tombstones[this.next]!.start, hi) < 0)) {
      this.pending.push(this.tombstones[this.next++]!);
    }
    const out: RangeTombstone[] = [];
    const still: RangeTombstone[] = [];
    for (const t of this.pending) {
      const start = lo !== undefined && compareBytes(t.start, lo) < 0 ? lo : t.start;
      const end = hi !== undefined && compareBytes(t.end, hi) > 0 ? hi : t.end;
      if (compareBytes(start, end) < 0) out.push({ start, end, seq: t.seq });
      if (hi !== undefined && compareBytes(t.end, hi) > 0) still.push(t);
    }
    this.pending = still;
    return out.sort(compareTombstones);
  }
}

/**
 * Whether a table bound is a range tombstone's end: exclusive, recorded with the trailer
 * (SEQ_MAX, RangeDelete) that sorts before every entry of its user key (TableBuilder).
 */
export function isExclusiveBound(bound: { seq: number; kind: number }): boolean {
  return bound.kind === ValueKind.RangeDelete && bound.seq === SEQ_MAX;
}
