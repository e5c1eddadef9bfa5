/**
 * What `Db.iterator()` returns: the entries a user sees, as an async iterator, plus
 * `nextBatch(max)` (many entries per await, for bulk reads) and `seek(key)`.
 *
 * Lazy, like the async generator it replaced: the first call checks the database is open,
 * checks the options, resolves the read point and pins a version; so a bad option rejects
 * that first call, not `iterator()`. Every later call checks the database is still open. The
 * pinned version is released at the end of the range, on `return()` and on any error: a
 * for-await loop that runs to the end calls no `return()`, so the end must release. After
 * that the iterator stays at its end (a seek does not reopen it).
 *
 * Concurrency: each call does its reading synchronously (the tree is read synchronously) and
 * returns an already-settled promise, so the calls of one iterator never interleave.
 */
import type { DbIterator } from './db-iterator.ts';
import { InvalidArgumentError } from './errors.ts';
import { toBytes } from './util/bytes.ts';
import type { KeyLike } from './db-arguments.ts';

export type Entry = [key: Uint8Array, value: Uint8Array];

/** What the database gives an EntryIterator. */
export interface EntrySource {
  /** Throws DB_CLOSED once the database is closed. */
  checkOpen(): void;
  /** Checks open and the options, pins a version: a cursor over it and the function that unpins. */
  open(): { cursor: DbIterator; release: () => void };
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * @example
 * ```ts
 * const it = db.iterator({ gte: 'a', lt: 'b' });
 * for await (const [key, value] of it) {}          // one entry per await
 * const entries = await it.nextBatch(1000);         // or up to 1000 per await; [] at the end
 * it.seek('apple');                                 // continue from the first key >= 'apple'
 * await it.return();                                // release early (for-await does it on break)
 * ```
 */
export class EntryIterator implements AsyncIterableIterator<Entry> {
  private cursor: DbIterator | undefined;
  private release: (() => void) | undefined;
  private finished = false;

  constructor(private readonly source: EntrySource) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Entry, undefined>> {
    try {
      const cursor = this.ready();
      if (cursor === undefined) return Promise.resolve(DONE);
      const entry = this.step(cursor);
      return Promise.resolve(entry === undefined ? DONE : { value: entry, done: false });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Up to `max` entries; an empty array at the end. */
  nextBatch(max: number): Promise<Entry[]> {
    try {
      if (!Number.isInteger(max) || max < 1) throw new InvalidArgumentError(`nextBatch: max must be a positive integer, got ${String(max)}`);
      const cursor = this.ready();
      const out: Entry[] = [];
      while (cursor !== undefined && out.length < max) {
        const entry = this.step(cursor);
        if (entry === undefined) break;
        out.push(entry);
      }
      return Promise.resolve(out);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Moves to the first key >= `target` (the last key <= `target` in reverse); range bounds
   * still apply and the limit keeps counting. Synchronous. No effect once the iterator is done.
   */
  seek(target: KeyLike): void {
    const key = toBytes(target, 'seek target');
    const cursor = this.ready();
    if (cursor === undefined) return;
    try {
      cursor.seek(key);
    } catch (err) {
      this.finish();
      throw err;
    }
  }

  /** Releases what the iterator pins; later calls report the end. */
  return(): Promise<IteratorReturnResult<undefined>> {
    this.finish();
    return Promise.resolve(DONE);
  }

  /** The open cursor, opening it on the first call; undefined once finished. */
  private ready(): DbIterator | undefined {
    if (this.finished) return undefined;
    if (this.cursor === undefined) {
      const { cursor, release } = this.source.open();
      this.cursor = cursor;
      this.release = release;
      return cursor;
    }
    try {
      this.source.checkOpen();
    } catch (err) {
      this.finish();
      throw err;
    }
    return this.cursor;
  }

  private step(cursor: DbIterator): Entry | undefined {
    let entry: Entry | undefined;
    try {
      entry = cursor.next();
    } catch (err) {
      this.finish();
      throw err;
    }
    if (entry === undefined) this.finish();
    return entry;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.release?.();
    this.release = undefined;
  }
}
