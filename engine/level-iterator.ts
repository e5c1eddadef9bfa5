/**
 * An iterator over one level >= 1: its files are sorted and disjoint, so the level reads as
 * one sorted run. Files are opened lazily through the table cache and released when the
 * iterator leaves them, so scanning a large level holds one reader at a time.
 *
 * The caller pins the version that lists these files, so none of them is deleted meanwhile.
 */
import type { InternalIterator } from './internal-iterator.ts';
import type { ValueKind } from './internal-key.ts';
import type { TableCache } from './sst/table-cache.ts';
import type { TableReader } from './sst/table-reader.ts';
import { compareBytes } from './util/bytes.ts';
import type { FileMeta } from './version/file-meta.ts';

export class LevelIterator implements InternalIterator {
  private index = -1;
  private reader: TableReader | undefined;
  private it: InternalIterator | undefined;

  constructor(
    private readonly files: readonly FileMeta[],
    private readonly tables: TableCache,
  ) {}

  valid(): boolean {
    return this.it !== undefined && this.it.valid();
  }

  seekToFirst(): void {
    this.open(0);
    this.it?.seekToFirst();
    this.skipForward();
  }

  seekToLast(): void {
    this.open(this.files.length - 1);
    this.it?.seekToLast();
    this.skipBackward();
  }

  seek(userKey: Uint8Array, seq: number): void {
    this.open(this.firstFileEndingAtOrAfter(userKey));
    this.it?.seek(userKey, seq);
    this.skipForward();
  }

  seekForPrev(userKey: Uint8Array): void {
    // The last file starting at or before userKey holds the answer, or the one before it.
    let i = this.firstFileEndingAtOrAfter(userKey);
    if (i >= this.files.length || compareBytes(this.files[i]!.smallest.userKey, userKey) > 0) i--;
    this.open(i);
    this.it?.seekForPrev(userKey);
    this.skipBackward();
  }

  next(): void {
    this.it!.next();
    this.skipForward();
  }

  prev(): void {
    this.it!.prev();
    this.skipBackward();
  }

  userKey(): Uint8Array {
    return this.it!.userKey();
  }
  seq(): number {
    return this.it!.seq();
  }
  kind(): ValueKind {
    return this.it!.kind();
  }
  value(): Uint8Array {
    return this.it!.value();
  }

  /** Releases the open file; the iterator is unpositioned afterwards. */
  close(): void {
    this.open(-1);
  }

  private firstFileEndingAtOrAfter(userKey: Uint8Array): number {
    let lo = 0;
    let hi = this.files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.files[mid]!.largest.userKey, userKey) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private skipForward(): void {
    while (this.it !== undefined && !this.it.valid()) {
      this.open(this.index + 1);
      this.it?.seekToFirst();
    }
  }

  private skipBackward(): void {
    while (this.it !== undefined && !this.it.valid()) {
      this.open(this.index - 1);
      this.it?.seekToLast();
    }
  }

  /** Switches to file `i`, or to none when `i` is out of range. */
  private open(i: number): void {
    if (i === this.index && this.it !== undefined) return;
    if (this.reader) this.tables.release(this.reader);
    this.reader = undefined;
    this.it = undefined;
    this.index = i;
    if (i < 0 || i >= this.files.length) return;
    this.reader = this.tables.acquire(this.files[i]!.number);
    this.it = this.reader.iterator();
  }
}
