/**
 * A k-way merge of internal iterators into one, in internal-key order, in either direction.
 * Children are few (memtables + L0 files + one per deeper level, a few dozen at most), so the
 * smallest is found by a linear scan rather than a heap: fewer moving parts, and at this size
 * no slower. When two children hold the same internal key (it cannot happen: sequence numbers
 * are unique) the earlier child wins.
 *
 * Switching direction re-seeks every other child around the current key, as LevelDB does.
 */
import { compareInternal, type ValueKind } from './internal-key.ts';
import type { InternalIterator } from './internal-iterator.ts';

export class MergingIterator implements InternalIterator {
  private current: InternalIterator | undefined;
  private forward = true;

  constructor(private readonly children: readonly InternalIterator[]) {}

  valid(): boolean {
    return this.current !== undefined;
  }

  seekToFirst(): void {
    for (const c of this.children) c.seekToFirst();
    this.forward = true;
    this.pickSmallest();
  }

  seekToLast(): void {
    for (const c of this.children) c.seekToLast();
    this.forward = false;
    this.pickLargest();
  }

  seek(userKey: Uint8Array, seq: number): void {
    for (const c of this.children) c.seek(userKey, seq);
    this.forward = true;
    this.pickSmallest();
  }

  seekForPrev(userKey: Uint8Array): void {
    for (const c of this.children) c.seekForPrev(userKey);
    this.forward = false;
    this.pickLargest();
  }

  next(): void {
    const cur = this.current!;
    if (!this.forward) {
      // Put every other child at its first entry after the current key.
      const k = cur.userKey();
      const s = cur.seq();
      const kind = cur.kind();
      for (const c of this.children) {
        if (c === cur) continue;
        c.seek(k, s);
        if (c.valid() && compareInternal(c.userKey(), c.seq(), c.kind(), k, s, kind) <= 0) c.next();
      }
      this.forward = true;
    }
    cur.next();
    this.pickSmallest();
  }

  prev(): void {
    const cur = this.current!;
    if (this.forward) {
      // Put every other child at its last entry before the current key.
      const k = cur.userKey();
      const s = cur.seq();
      const kind = cur.kind();
      for (const c of this.children) {
        if (c === cur) continue;
        c.seek(k, s);
        if (c.valid()) c.prev();
        else c.seekToLast();
        while (c.valid() && compareInternal(c.userKey(), c.seq(), c.kind(), k, s, kind) >= 0) c.prev();
      }
      this.forward = false;
    }
    cur.prev();
    this.pickLargest();
  }

  userKey(): Uint8Array {
    return this.current!.userKey();
  }
  seq(): number {
    return this.current!.seq();
  }
  kind(): ValueKind {
    return this.current!.kind();
  }
  value(): Uint8Array {
    return this.current!.value();
  }

  private pickSmallest(): void {
    let best: InternalIterator | undefined;
    for (const c of this.children) {
      if (!c.valid()) continue;
      if (best === undefined || compareInternal(c.userKey(), c.seq(), c.kind(), best.userKey(), best.seq(), best.kind()) < 0) best = c;
    }
    this.current = best;
  }

  private pickLargest(): void {
    let best: InternalIterator | undefined;
    for (let i = this.children.length - 1; i >= 0; i--) {
      const c = this.children[i]!;
      if (!c.valid()) continue;
      if (best === undefined || compareInternal(c.userKey(), c.seq(), c.kind(), best.userKey(), best.seq(), best.kind()) > 0) best = c;
    }
    this.current = best;
  }
}
