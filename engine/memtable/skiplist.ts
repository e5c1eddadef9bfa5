/**
 * A skiplist of memtable entries in internal-key order (see internal-key.ts). Insert-only:
 * an overwrite or delete is a new entry with a higher sequence number, so nodes are never
 * unlinked and an iterator stays valid while writes go on.
 *
 * Single-threaded by construction (one JS thread); no await happens inside any method, so a
 * reader never sees a half-linked node.
 * Heights: p = 1/4, at most HEIGHT_MAX levels, which suits up to ~4^12 = 16M entries.
 */
import { compareInternal, type ValueKind } from '../internal-key.ts';

export const HEIGHT_MAX = 12;

export class SkipNode {
  constructor(
    readonly userKey: Uint8Array,
    readonly seq: number,
    readonly kind: ValueKind,
    readonly value: Uint8Array,
    readonly next: Array<SkipNode | null>,
  ) {}
}

const EMPTY = new Uint8Array(0);

export class SkipList {
  readonly head = new SkipNode(EMPTY, 0, 0 as ValueKind, EMPTY, new Array<SkipNode | null>(HEIGHT_MAX).fill(null));
  private height = 1;
  private readonly prevScratch = new Array<SkipNode>(HEIGHT_MAX);
  count = 0;

  constructor(private readonly random: () => number = Math.random) {}

  private randomHeight(): number {
    let h = 1;
    while (h < HEIGHT_MAX && this.random() < 0.25) h++;
    return h;
  }

  /** Inserts an entry; (userKey, seq) must not already be present. */
  insert(userKey: Uint8Array, seq: number, kind: ValueKind, value: Uint8Array): void {
    const prev = this.prevScratch;
    let x = this.head;
    for (let level = this.height - 1; level >= 0; level--) {
      for (;;) {
        const next = x.next[level]!;
        if (next === null || compareInternal(next.userKey, next.seq, next.kind, userKey, seq, kind) >= 0) break;
        x = next;
      }
      prev[level] = x;
    }
    const h = this.randomHeight();
    if (h > this.height) {
      for (let level = this.height; level < h; level++) prev[level] = this.head;
      this.height = h;
    }
    const node = new SkipNode(userKey, seq, kind, value, new Array<SkipNode | null>(h));
    for (let level = 0; level < h; level++) {
      node.next[level] = prev[level]!.next[level]!;
      prev[level]!.next[level] = node;
    }
    this.count++;
  }

  /** The first node >= (userKey, seq, kind), or null. */
  findGreaterOrEqual(userKey: Uint8Array, seq: number, kind: number): SkipNode | null {
    let x = this.head;
    for (let level = this.height - 1; level >= 0; level--) {
      for (;;) {
        const next = x.next[level]!;
        if (next === null || compareInternal(next.userKey, next.seq, next.kind, userKey, seq, kind) >= 0) {
          if (level === 0) return next;
          break;
        }
        x = next;
      }
    }
    return null;
  }

  /** The last node < (userKey, seq, kind), or null if none (the head). */
  findLessThan(userKey: Uint8Array, seq: number, kind: number): SkipNode | null {
    let x = this.head;
    for (let level = this.height - 1; level >= 0; level--) {
      for (;;) {
        const next = x.next[level]!;
        if (next === null || compareInternal(next.userKey, next.seq, next.kind, userKey, seq, kind) >= 0) break;
        x = next;
      }
    }
    return x === this.head ? null : x;
  }

  /** The last node, or null when empty. */
  findLast(): SkipNode | null {
    let x = this.head;
    for (let level = this.height - 1; level >= 0; level--) {
      while (x.next[level] !== null) x = x.next[level]!;
    }
    return x === this.head ? null : x;
  }
}
