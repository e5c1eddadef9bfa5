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
 */
import { ValueKind } from '../internal-key.ts';
import { bytesEqual } from '../util/bytes.ts';

export class CompactionFilter {
  private currentKey: Uint8Array | undefined;
  /** Sequence number of the next-newer version of the current key (Infinity: none). */
  private newerSeq = Infinity;
  /** Counters for stats and tests. */
  dropped = 0;
  droppedTombstones = 0;

  /**
   * @param snapshots live snapshot sequence numbers, ascending
   * @param isBottom whether no deeper level holds the key
   */
  constructor(
    private readonly snapshots: readonly number[],
    private readonly isBottom: (userKey: Uint8Array) => boolean,
  ) {}

  /** Whether to keep this version. Call once per entry, in order. */
  keep(userKey: Uint8Array, seq: number, kind: ValueKind): boolean {
    if (this.currentKey === undefined || !bytesEqual(userKey, this.currentKey)) {
      this.currentKey = userKey;
      this.newerSeq = Infinity;
    }
    const newer = this.newerSeq;
    this.newerSeq = seq;
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
