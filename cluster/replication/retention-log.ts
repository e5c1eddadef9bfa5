/**
 * The leader's window of recent committed batches, kept in memory so a follower can resume
 * from its own position: the retention window. Each entry is one committed write group as the
 * engine's commit listener saw it (its first and last sequence numbers, its WAL encoding) and
 * the time it committed, which the in-sync check reads to measure a follower's lag in ms.
 *
 * Pure: the caller passes every time. Bounded by `bytesMax` and `batchesMax`; the oldest
 * entries go first. A pin (a snapshot transfer in progress) holds entries from its sequence
 * number on past `bytesMax`, but never past `bytesMax × PIN_OVERSHOOT`, so a stuck transfer
 * cannot take all memory.
 *
 * Invariants: entries are contiguous (each `first` is the previous `last` + 1), and the last
 * one ends at `lastSeq`. The log can serve any `from` in [servableFrom, lastSeq + 1].
 */

export interface RetainedBatch {
  readonly first: number;
  readonly last: number;
  readonly batch: Uint8Array;
  readonly committedMs: number;
}

/** How far past its byte limit the log may grow to keep a pinned snapshot transfer resumable. */
export const PIN_OVERSHOOT = 4;

export class RetentionLog {
  private entries: RetainedBatch[] = [];
  /** Index of the oldest live entry in `entries` (dropped ones are compacted away in bulk). */
  private head = 0;
  private bytesHeld = 0;
  private lastSeqValue: number;
  private readonly pins = new Map<number, number>();

  /** `lastSeq`: the engine's last sequence number when the log starts; nothing before it is kept. */
  constructor(lastSeq: number, private readonly bytesMax: number, private readonly batchesMax: number) {
    this.lastSeqValue = lastSeq;
  }

  get lastSeq(): number {
    return this.lastSeqValue;
  }

  get bytes(): number {
    return this.bytesHeld;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  /** The smallest `from` this log can stream from. */
  get servableFrom(): number {
    return this.entries[this.head]?.first ?? this.lastSeqValue + 1;
  }

  /** Adds a committed group. REQUIRES: it follows the last one (commit order). */
  append(first: number, last: number, batch: Uint8Array, committedMs: number): void {
    if (first !== this.lastSeqValue + 1 || last < first) {
      throw new Error(`retention log: batch ${first}..${last} does not follow ${this.lastSeqValue}`);
    }
    this.entries.push({ first, last, batch, committedMs });
    this.bytesHeld += batch.length;
    this.lastSeqValue = last;
    this.evict();
  }

  /** The entry holding `seq`, or undefined if it is no longer (or not yet) retained. */
  entryFor(seq: number): RetainedBatch | undefined {
    if (seq < this.servableFrom || seq > this.lastSeqValue) return undefined;
    // Binary search: entries are sorted and contiguous.
    let lo = this.head;
    let hi = this.entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.last < seq) lo = mid + 1;
      else hi = mid;
    }
    return this.entries[lo];
  }

  /** When the batch holding `seq` committed; undefined if it is not retained. */
  committedMsOf(seq: number): number | undefined {
    return this.entryFor(seq)?.committedMs;
  }

  /** Holds entries from `seq` on (within PIN_OVERSHOOT); returns the release function. */
  pin(seq: number): () => void {
    this.pins.set(seq, (this.pins.get(seq) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = this.pins.get(seq)! - 1;
      if (n === 0) this.pins.delete(seq);
      else this.pins.set(seq, n);
      this.evict();
    };
  }

  private evict(): void {
    const pinnedFrom = this.pins.size === 0 ? Infinity : Math.min(...this.pins.keys());
    const hardMax = this.bytesMax * PIN_OVERSHOOT;
    while (this.size > 0) {
      const oldest = this.entries[this.head]!;
      const over = this.bytesHeld > this.bytesMax || this.size > this.batchesMax;
      if (!over) break;
      // A pinned entry stays unless the log is far past its limit.
      if (oldest.last >= pinnedFrom && this.bytesHeld <= hardMax && this.size <= this.batchesMax) break;
      this.bytesHeld -= oldest.batch.length;
      this.entries[this.head++] = undefined as unknown as RetainedBatch;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
