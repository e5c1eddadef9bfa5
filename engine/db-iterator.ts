/**
 * Turns the merged stream of internal entries into what a user sees at one sequence number:
 * for each user key, its newest version with seq <= the snapshot, hidden if that version is
 * a delete; within [lower, upper] bounds, in either direction, up to a limit. Pure, synchronous.
 *
 * Forward: entries of one user key arrive newest first, so the first visible one decides.
 * Reverse: they arrive oldest first, so the walk back collects the newest visible one and
 * decides when the user key changes (as LevelDB's DBIter does).
 *
 * Range tombstones (those visible at the read's sequence number, fragmented, or undefined when
 * there are none: then nothing is checked) hide a key's newest visible version when one of
 * them covering the key is newer than it.
 */
import { ValueKind, SEQ_MAX } from './internal-key.ts';
import type { FragmentedTombstones } from './range-tombstones.ts';
import type { InternalIterator } from './internal-iterator.ts';
import { ByteSlab } from './util/byte-slab.ts';
import { bytesEqual, compareBytes } from './util/bytes.ts';

/** Where the copies handed to callers come from (see byte-slab.ts). */
const copies = new ByteSlab();

export interface Bounds {
  /** Inclusive or exclusive lower bound (undefined: none). */
  lower?: Uint8Array;
  lowerExclusive?: boolean;
  upper?: Uint8Array;
  upperExclusive?: boolean;
}

export class DbIterator {
  private remaining: number;
  private started = false;
  /** At the end of the range; a seek may move back into it. */
  private ended = false;

  constructor(
    private readonly it: InternalIterator,
    private readonly seq: number,
    private readonly bounds: Bounds,
    private readonly reverse: boolean,
    limit: number,
    private readonly tombstones?: FragmentedTombstones,
  ) {
    this.remaining = limit < 0 ? Infinity : limit;
  }

  /** The next visible [key, value], or undefined when done. Returned arrays are copies. */
  next(): [Uint8Array, Uint8Array] | undefined {
    if (this.ended || this.remaining <= 0) return undefined;
    const entry = this.reverse ? this.nextReverse() : this.nextForward();
    if (entry === undefined) {
      this.ended = true;
      return undefined;
    }
    this.remaining--;
    return [copies.copy(entry[0]), copies.copy(entry[1])];
  }

  /**
   * Repositions at the first key >= `target` (in reverse, the last key <= `target`), as if the
   * iteration had started there; bounds still apply and the limit keeps counting.
   */
  seek(target: Uint8Array): void {
    this.started = true;
    this.ended = false;
    const { lower, upper } = this.bounds;
    if (this.reverse) {
      if (upper !== undefined && compareBytes(target, upper) > 0) this.it.seekForPrev(upper);
      else this.it.seekForPrev(target);
    } else if (lower !== undefined && compareBytes(target, lower) < 0) this.it.seek(lower, SEQ_MAX);
    else this.it.seek(target, SEQ_MAX);
  }

  private nextForward(): [Uint8Array, Uint8Array] | undefined {
    const it = this.it;
    if (!this.started) {
      this.started = true;
      if (this.bounds.lower) it.seek(this.bounds.lower, SEQ_MAX);
      else it.seekToFirst();
    }
    while (it.valid()) {
      const key = it.userKey();
      if (this.beyondUpper(key)) return undefined;
      if (it.seq() > this.seq || this.belowLower(key)) {
        it.next();
        continue;
      }
      const kind = it.kind();
      const value = it.value();
      const seq = it.seq();
      this.skipRestOf(key);
      if (kind === ValueKind.Put && !this.hiddenByRange(key, seq)) return [key, value];
    }
    return undefined;
  }

  /** Moves past every remaining (older) version of `key`. */
  private skipRestOf(key: Uint8Array): void {
    const it = this.it;
    it.next();
    while (it.valid() && bytesEqual(it.userKey(), key)) it.next();
  }

  private nextReverse(): [Uint8Array, Uint8Array] | undefined {
    const it = this.it;
    if (!this.started) {
      this.started = true;
      if (this.bounds.upper) it.seekForPrev(this.bounds.upper);
      else it.seekToLast();
    }
    while (it.valid()) {
      const key = it.userKey();
      if (this.belowLower(key)) return undefined;
      // Walk back over every version of `key`; the last visible one seen is the newest.
      let kind: ValueKind | undefined;
      let value: Uint8Array | undefined;
      let seq = 0;
      while (it.valid() && bytesEqual(it.userKey(), key)) {
        const entrySeq = it.seq();
        if (entrySeq <= this.seq) {
          kind = it.kind();
          value = it.value();
          seq = entrySeq;
        }
        it.prev();
      }
      if (kind === ValueKind.Put && !this.beyondUpper(key) && !this.hiddenByRange(key, seq)) return [key, value!];
    }
    return undefined;
  }

  /** Whether a visible range tombstone newer than `seq` covers `key`. */
  private hiddenByRange(key: Uint8Array, seq: number): boolean {
    const tombstones = this.tombstones;
    return tombstones !== undefined && tombstones.coveringSeq(key, SEQ_MAX) > seq;
  }

  private belowLower(key: Uint8Array): boolean {
    const lower = this.bounds.lower;
    if (!lower) return false;
    const c = compareBytes(key, lower);
    return c < 0 || (c === 0 && this.bounds.lowerExclusive === true);
  }

  private beyondUpper(key: Uint8Array): boolean {
    const upper = this.bounds.upper;
    if (!upper) return false;
    const c = compareBytes(key, upper);
    return c > 0 || (c === 0 && this.bounds.upperExclusive === true);
  }
}
