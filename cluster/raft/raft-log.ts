/**
 * A member's Raft log in memory: the latest snapshot, the entries after it, and the indexes
 * the core tracks along it. Pure; the durable copy is raft-storage.ts's business.
 *
 *   snapshot.index ≤ applied ≤ applying ≤ committed ≤ lastIndex
 *   stableIndex ≤ lastIndex: entries up to stableIndex are durable (the driver said so in
 *   advance()); those after it are handed out in the next Ready.
 *
 * Invariants (asserted):
 * 1. entries[k].index = snapshot.index + 1 + k, and terms never decrease along the log.
 * 2. The commit index never decreases and never passes lastIndex; a committed entry is never
 *    overwritten (truncation starts after `committed`).
 * 3. `membership` lists the log's Membership entries in index order, with their voter sets,
 *    so the configuration at any index is found without decoding entries again.
 *
 * The whole log since the last snapshot stays in memory: the metadata log is compacted every
 * `snapshotEntries` applied entries, so this holds a few thousand small entries at most.
 */
import { decodeMembership } from './membership.ts';
import { raftAssert } from './raft-errors.ts';
import { EntryType, type Entry, type NodeId, type Snapshot } from './raft-types.ts';

interface MembershipPoint {
  readonly index: number;
  readonly voters: readonly NodeId[];
}

export class RaftLog {
  private snapshotValue: Snapshot;
  private entries: Entry[] = [];
  private membership: MembershipPoint[] = [];
  committed: number;
  applied: number;
  /** Highest index handed out in a Ready for applying (≥ applied until advance). */
  applying: number;
  stableIndex: number;
  /** A snapshot from the leader, restored in memory, not yet persisted. */
  pendingSnapshot: Snapshot | undefined;

  constructor(snapshot: Snapshot, entries: readonly Entry[], commit: number) {
    this.snapshotValue = snapshot;
    this.committed = snapshot.index;
    this.applied = snapshot.index;
    this.applying = snapshot.index;
    this.stableIndex = snapshot.index;
    if (entries.length > 0) this.append(entries);
    this.stableIndex = this.lastIndex();
    this.committed = Math.max(commit, snapshot.index);
    raftAssert(this.committed <= this.lastIndex(), () => `raft log: commit ${this.committed} is past the last index ${this.lastIndex()}`);
  }

  get snapshot(): Snapshot {
    return this.snapshotValue;
  }

  firstIndex(): number {
    return this.snapshotValue.index + 1;
  }

  lastIndex(): number {
    return this.snapshotValue.index + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.snapshotValue.term : this.entries[this.entries.length - 1]!.term;
  }

  /** The term at `index`, or undefined when it is compacted away or past the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotValue.index) return this.snapshotValue.term;
    if (index < this.snapshotValue.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.firstIndex()]!.term;
  }

  entry(index: number): Entry | undefined {
    return index < this.firstIndex() || index > this.lastIndex() ? undefined : this.entries[index - this.firstIndex()];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: is a log ending at (index, term) at least as up-to-date as this one? */
  isUpToDate(index: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && index >= this.lastIndex());
  }

  /**
   * A follower's append: if the entry at prevIndex has prevTerm, overwrite from the first
   * conflicting entry on, advance the commit index, and return the last index the leader's
   * message covers; otherwise undefined (the leader must back up).
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = entries.findIndex((e) => !this.matchTerm(e.index, e.term));
    if (conflict >= 0) this.append(entries.slice(conflict));
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Appends `entries`, overwriting the log from `entries[0].index` on. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    raftAssert(first > this.committed, () => `raft log: overwriting committed entry ${first} (commit ${this.committed})`);
    raftAssert(first > this.snapshotValue.index && first <= this.lastIndex() + 1, () => `raft log: append at ${first} leaves a gap after ${this.lastIndex()} or reaches into the snapshot at ${this.snapshotValue.index}`);
    this.entries.length = first - this.firstIndex();
    while (this.membership.length > 0 && this.membership[this.membership.length - 1]!.index >= first) this.membership.pop();
    let previousTerm = this.lastTerm();
    for (const [k, entry] of entries.entries()) {
      raftAssert(entry.index === first + k && entry.term >= previousTerm, () => `raft log: entry ${entry.index}/${entry.term} does not follow ${first + k - 1}/${previousTerm}`);
      previousTerm = entry.term;
      this.entries.push(entry);
      if (entry.type === EntryType.Membership) this.membership.push({ index: entry.index, voters: decodeMembership(entry.data).voters });
    }
    this.stableIndex = Math.min(this.stableIndex, first - 1);
  }

  /** Entries in [low, high), at most `bytesMax` of data but always at least one. */
  slice(low: number, high: number, bytesMax = Infinity): Entry[] {
    raftAssert(low >= this.firstIndex() && high <= this.lastIndex() + 1, () => `raft log: slice [${low}, ${high}) outside [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = low; i < high; i++) {
      const entry = this.entries[i - this.firstIndex()]!;
      bytes += entry.data.length;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  /**
   * The last index at or before `index` whose term is at most `term`, with that term (0 when
   * the terms there are compacted away). A follower rejecting an append names it as where its
   * log may match; the leader looks up the same in its own log to skip a whole term at once.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    if (index < this.snapshotValue.index) return { index, term: 0 };
    for (let i = Math.min(index, this.lastIndex()); i >= this.snapshotValue.index; i--) {
      const at = this.term(i)!;
      if (at <= term) return { index: i, term: at };
    }
    return { index: this.snapshotValue.index, term: 0 };
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    raftAssert(index <= this.lastIndex(), () => `raft log: commit ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** §5.4.2: the leader commits `index` only if its entry is of the current term. */
  maybeCommit(index: number, term: number): boolean {
    if (index <= this.committed || this.term(index) !== term) return false;
    this.commitTo(index);
    return true;
  }

  /** The driver persisted entries up to (index, term): if that entry is still there, they are stable. */
  stableTo(index: number, term: number): void {
    if (index > this.stableIndex && this.term(index) === term) this.stableIndex = index;
  }

  unstableEntries(): Entry[] {
    return this.stableIndex >= this.lastIndex() ? [] : this.slice(this.stableIndex + 1, this.lastIndex() + 1);
  }

  /** Committed entries not yet handed out for applying. */
  nextCommittedEntries(): Entry[] {
    const low = Math.max(this.applying + 1, this.firstIndex());
    raftAssert(low === this.applying + 1 || this.pendingSnapshot !== undefined, () => `raft log: entries ${this.applying + 1}..${low - 1} were compacted before being applied`);
    return low > this.committed ? [] : this.slice(low, this.committed + 1);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applying;
  }

  appliedTo(index: number): void {
    raftAssert(index <= this.committed && index >= this.applied, () => `raft log: applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
    this.applying = Math.max(this.applying, index);
  }

  /** Replaces the whole log with a snapshot from the leader; it is pending until persisted. */
  restore(snapshot: Snapshot): void {
    raftAssert(snapshot.index > this.committed, () => `raft log: restoring snapshot ${snapshot.index} at or below commit ${this.committed}`);
    this.snapshotValue = snapshot;
    this.entries = [];
    this.membership = [];
    this.committed = snapshot.index;
    this.stableIndex = snapshot.index;
    this.pendingSnapshot = snapshot;
  }

  /** Drops the entries a persisted local snapshot covers. */
  compact(snapshot: Snapshot): void {
    if (snapshot.index <= this.snapshotValue.index) return;
    raftAssert(snapshot.index <= this.applied && this.term(snapshot.index) === snapshot.term, () => `raft log: compacting to ${snapshot.index}/${snapshot.term}, applied ${this.applied}, term there ${this.term(snapshot.index)}`);
    this.entries = this.entries.slice(snapshot.index - this.snapshotValue.index);
    this.membership = this.membership.filter((m) => m.index > snapshot.index);
    this.snapshotValue = snapshot;
  }

  /** The voters in effect at `index` (the latest Membership entry at or before it). */
  votersAt(index: number): readonly NodeId[] {
    raftAssert(index >= this.snapshotValue.index, () => `raft log: configuration at ${index} is compacted (snapshot ${this.snapshotValue.index})`);
    for (let k = this.membership.length - 1; k >= 0; k--) {
      if (this.membership[k]!.index <= index) return this.membership[k]!.voters;
    }
    return this.snapshotValue.voters;
  }

  /** The index of the newest Membership entry in the log, 0 if the snapshot holds the configuration. */
  lastMembershipIndex(): number {
    return this.membership.length === 0 ? 0 : this.membership[this.membership.length - 1]!.index;
  }

  /** Bytes of entry data from `index` on (the leader's uncommitted size). */
  bytesFrom(index: number): number {
    let bytes = 0;
    for (let i = Math.max(index, this.firstIndex()); i <= this.lastIndex(); i++) bytes += this.entries[i - this.firstIndex()]!.data.length;
    return bytes;
  }
}
