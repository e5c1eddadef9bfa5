/**
 * A k-way merge of internal iterators into one, in internal-key order, in either direction.
 *
 * The children that are positioned sit in a binary heap (smallest on top going forward,
 * largest going backward), and each child's current key, sequence number and kind are kept
 * beside it, read once per move. A step moves the top child and sifts it down: when one child
 * supplies a long run of keys, as the biggest level does in a scan, that costs one or two
 * comparisons instead of one per child. When two children hold the same internal key (it
 * cannot happen: sequence numbers are unique) the earlier child wins going forward and the
 * later one going backward.
 *
 * Switching direction re-seeks every other child around the current key, as LevelDB does.
 */
import { compareInternal, type ValueKind } from './internal-key.ts';
import type { InternalIterator } from './internal-iterator.ts';

export class MergingIterator implements InternalIterator {
  /** Indices of the valid children, heap-ordered by `precedes`. */
  private readonly heap: number[] = [];
  private forward = true;
  /** Each child's current entry, as of its last move (valid only while it is in the heap). */
  private readonly keys: Uint8Array[];
  private readonly seqs: number[];
  private readonly kinds: number[];

  constructor(private readonly children: readonly InternalIterator[]) {
    this.keys = new Array<Uint8Array>(children.length);
    this.seqs = new Array<number>(children.length).fill(0);
    this.kinds = new Array<number>(children.length).fill(0);
  }

  valid(): boolean {
    return this.heap.length > 0;
  }

  seekToFirst(): void {
    for (const c of this.children) c.seekToFirst();
    this.rebuild(true);
  }

  seekToLast(): void {
    for (const c of this.children) c.seekToLast();
    this.rebuild(false);
  }

  seek(userKey: Uint8Array, seq: number): void {
    for (const c of this.children) c.seek(userKey, seq);
    this.rebuild(true);
  }

  seekForPrev(userKey: Uint8Array): void {
    for (const c of this.children) c.seekForPrev(userKey);
    this.rebuild(false);
  }

  next(): void {
    const top = this.heap[0]!;
    if (!this.forward) {
      // Put every other child at its first entry after the current key.
      const k = this.keys[top]!;
      const s = this.seqs[top]!;
      const kind = this.kinds[top]!;
      this.children.forEach((c, i) => {
        if (i === top) return;
        c.seek(k, s);
        if (c.valid() && compareInternal(c.userKey(), c.seq(), c.kind(), k, s, kind) <= 0) c.next();
      });
      this.children[top]!.next();
      this.rebuild(true);
      return;
    }
    this.children[top]!.next();
    this.replaceTop(top);
  }

  prev(): void {
    const top = this.heap[0]!;
    if (this.forward) {
      // Put every other child at its last entry before the current key.
      const k = this.keys[top]!;
      const s = this.seqs[top]!;
      const kind = this.kinds[top]!;
      this.children.forEach((c, i) => {
        if (i === top) return;
        c.seek(k, s);
        if (c.valid()) c.prev();
        else c.seekToLast();
        while (c.valid() && compareInternal(c.userKey(), c.seq(), c.kind(), k, s, kind) >= 0) c.prev();
      });
      this.children[top]!.prev();
      this.rebuild(false);
      return;
    }
    this.children[top]!.prev();
    this.replaceTop(top);
  }

  userKey(): Uint8Array {
    return this.keys[this.heap[0]!]!;
  }
  seq(): number {
    return this.seqs[this.heap[0]!]!;
  }
  kind(): ValueKind {
    return this.kinds[this.heap[0]!]! as ValueKind;
  }
  value(): Uint8Array {
    return this.children[this.heap[0]!]!.value();
  }

  /** Reads child i's current entry into the arrays beside the heap. */
  private load(i: number): void {
    const c = this.children[i]!;
    this.keys[i] = c.userKey();
    this.seqs[i] = c.seq();
    this.kinds[i] = c.kind();
  }

  /** Whether child a's entry comes out before child b's in the current direction. */
  private precedes(a: number, b: number): boolean {
    const c = compareInternal(this.keys[a]!, this.seqs[a]!, this.kinds[a]!, this.keys[b]!, this.seqs[b]!, this.kinds[b]!);
    if (this.forward) return c < 0 || (c === 0 && a < b);
    return c > 0 || (c === 0 && a > b);
  }

  /** Makes a heap of every valid child, for a direction. */
  private rebuild(forward: boolean): void {
    this.forward = forward;
    const heap = this.heap;
    heap.length = 0;
    for (let i = 0; i < this.children.length; i++) {
      if (!this.children[i]!.valid()) continue;
      this.load(i);
      heap.push(i);
    }
    for (let at = (heap.length >> 1) - 1; at >= 0; at--) this.siftDown(at);
  }

  /** The top child has moved: sift it down to its place, or drop it when it has run out. */
  private replaceTop(top: number): void {
    const heap = this.heap;
    if (this.children[top]!.valid()) this.load(top);
    else {
      const last = heap.pop()!;
      if (heap.length === 0) return;
      heap[0] = last;
    }
    this.siftDown(0);
  }

  private siftDown(at: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[at]!;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= n) break;
      if (child + 1 < n && this.precedes(heap[child + 1]!, heap[child]!)) child++;
      if (!this.precedes(heap[child]!, item)) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = item;
  }
}
