/**
 * Which versions a compaction keeps. Pure; fed entries in internal-key order (for each user
 * key, newest first).
 *
 * A version is needed while some read point can see it. The read points are every live
 * snapshot's sequence number plus "latest". A version with sequence s, whose next-newer
 * version of the same key has sequence n (or none), is what read points in [s, n) see; it is
 * kept if any read point falls in that range. The newest version is always kept (latest sees
 * it), except a tombstone at or below every live snapshot (so every read point sees it) and
 * at the bottom for its key (nothing older below to hide), whose older versions in this
 * compaction are all shadowed anyway. (LevelDB: `seq <= smallest_snapshot && IsBaseLevelForKey`.)
 *
 * Range tombstones count as newer versions: a version with sequence s that a tombstone of the
 * compaction's inputs covers at t > s is seen only by read points in [s, min(n, t)), where t is
 * the oldest such tombstone. The tombstones themselves follow the same rule per fragment
 * (`keepRangeTombstone`): one is kept while a read point falls between it and the next newer
 * one covering the same keys; the newest is dropped only where every read point sees it and
 * no deeper level holds any of its keys.
 */
import { ValueKind } from '../internal-key.ts';
import { FragmentedTombstones } from '../range-tombstones.ts';
import { bytesEqual } from '../util/bytes.ts';

export class CompactionFilter {
  private currentKey: Uint8Array | undefined;
  /** Sequence number of the next-newer version of the current key (Infinity: none). */
  private newerSeq = Infinity;
  /** Counters for stats and tests. */
  dropped = 0;
  droppedTombstones = 0;
  /** Range tombstone fragments dropped (a tombstone cut into fragments may count more than once). */
  droppedRangeTombstones = 0;

  /**
   * @param snapshots live snapshot sequence numbers, ascending
   * @param isBottom whether no deeper level holds the key
   * @param tombstones the inputs' range tombstones (none: no range checks at all)
   * @param isBottomRange whether no deeper level holds any key of [start, end)
   */
  constructor(
    private readonly snapshots: readonly number[],
    private readonly isBottom: (userKey: Uint8Array) => boolean,
    private readonly tombstones: FragmentedTombstones = FragmentedTombstones.EMPTY,
    private readonly isBottomRange: (start: Uint8Array, end: Uint8Array) => boolean = () => false,
  ) {}

  /** Whether to keep this version. Call once per entry, in order. */
  keep(userKey: Uint8Array, seq: number, kind: ValueKind): boolean {
    if (this.currentKey === undefined || !bytesEqual(userKey, this.currentKey)) {
      this.currentKey = userKey;
      this.newerSeq = Infinity;
    }
    const newerVersion = this.newerSeq;
    this.newerSeq = seq;
    const newer = this.tombstones.count === 0 ? newerVersion : Math.min(newerVersion, this.tombstones.newerThan(userKey, seq));
    if (newer !== Infinity && !this.readPointIn(seq, newer)) {
      this.dropped++;
      return false;
    }
    if (kind === ValueKind.Delete && newer === Infinity && seq <= (this.snapshots[0] ?? Infinity) && this.isBottom(userKey)) {
      // Every read point sees this tombstone, and it would hide nothing below: drop it. The
      // older versions of the key then fall in no read point's range and are dropped too.
      this.dropped++;
      this.droppedTombstones++;
      return false;
    }
    return true;
  }

  /**
   * Whether to keep the tombstone at `seqs[i]` of the fragment [start, end), whose covering
   * sequence numbers are `seqs`, newest first. Counts what it drops in `droppedRangeTombstones`.
   */
  keepRangeTombstone(start: Uint8Array, end: Uint8Array, seqs: readonly number[], i: number): boolean {
    const seq = seqs[i]!;
    const keep = i > 0 ? this.readPointIn(seq, seqs[i - 1]!) : !(seq <= (this.snapshots[0] ?? Infinity) && this.isBottomRange(start, end));
    if (!keep) this.droppedRangeTombstones++;
    return keep;
  }

  /** Is there a read point r with low <= r < high? "latest" counts as +Infinity. */
  private readPointIn(low: number, high: number): boolean {
    if (high === Infinity) return true;
    return this.snapshotAtOrAbove(low, high);
  }

  /** Is there a live snapshot s with low <= s < high? */
  private snapshotAtOrAbove(low: number, high: number): boolean {
    const snaps = this.snapshots;
    let lo = 0;
    let hi = snaps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (snaps[mid]! < low) lo = mid + 1;
      else hi = mid;
    }
    return lo < snaps.length && snaps[lo]! < high;
  }
}
