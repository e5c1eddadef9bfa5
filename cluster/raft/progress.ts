/**
 * The leader's view of one follower's log, and the flow control of what it sends there
 * (after etcd raft's tracker.Progress). Pure.
 *
 * States:
 *   probe      the leader does not know where the follower's log matches: one append at a
 *              time, then wait for its answer (or the next heartbeat answer);
 *   replicate  it matches up to `match`: appends stream optimistically, `next` runs ahead,
 *              bounded by a window of in-flight appends (count and bytes);
 *   snapshot   the entries it needs are compacted: a snapshot is on its way; nothing else is
 *              sent until the follower answers, or `electionTicks` pass without an answer.
 *
 * Invariant: match < next.
 */
import { raftAssert } from './raft-errors.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** Appends in flight to one follower: a ring of (last index, bytes), bounded in count and bytes. */
export class Inflights {
  private readonly lastIndexes: number[] = [];
  private readonly sizes: number[] = [];
  private bytes = 0;

  constructor(private readonly countMax: number, private readonly bytesMax: number) {}

  add(lastIndex: number, bytes: number): void {
    raftAssert(!this.full(), 'progress: adding an append to a full in-flight window');
    this.lastIndexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** The follower acknowledged up to `index`: every append ending at or before it has landed. */
  freeTo(index: number): void {
    let n = 0;
    while (n < this.lastIndexes.length && this.lastIndexes[n]! <= index) this.bytes -= this.sizes[n++]!;
    this.lastIndexes.splice(0, n);
    this.sizes.splice(0, n);
  }

  /** Forgets the oldest append (it may have been lost). */
  freeFirst(): void {
    if (this.lastIndexes.length === 0) return;
    this.bytes -= this.sizes[0]!;
    this.lastIndexes.shift();
    this.sizes.shift();
  }

  full(): boolean {
    return this.lastIndexes.length >= this.countMax || this.bytes >= this.bytesMax;
  }

  count(): number {
    return this.lastIndexes.length;
  }

  reset(): void {
    this.lastIndexes.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Probe state: an append is out and unanswered. */
  probeSent = false;
  /** Snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** Ticks since the snapshot was sent. */
  snapshotElapsedTicks = 0;
  /** Heard from since the last quorum check (CheckQuorum). */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, inflightCountMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightCountMax, inflightBytesMax);
  }

  becomeProbe(): void {
    // Back from a snapshot: the follower has at least the snapshot (if it took it).
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.reset('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.reset('replicate');
  }

  becomeSnapshot(index: number): void {
    this.reset('snapshot');
    this.pendingSnapshot = index;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotElapsedTicks = 0;
    this.inflights.reset();
  }

  /** The follower acknowledged up to `index`; false if that is old news. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected an append after `rejected`; `hint` is where its log may match.
   * False if the rejection is stale (an answer to an append sent before a newer one).
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append ending at `lastIndex` with `bytes` of data. */
  sentEntries(lastIndex: number, entryCount: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
    raftAssert(this.match < this.next, () => `progress: match ${this.match} not below next ${this.next}`);
  }

  isPaused(): boolean {
    if (this.state === 'probe') return this.probeSent;
    if (this.state === 'replicate') return this.inflights.full();
    return true;
  }

  describe(): string {
    const window = this.state === 'replicate' ? ` inflight=${this.inflights.count()}` : this.state === 'snapshot' ? ` snapshot=${this.pendingSnapshot}` : this.probeSent ? ' paused' : '';
    return `${this.state} match=${this.match} next=${this.next}${window}`;
  }
}
