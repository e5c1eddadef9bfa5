/**
 * The iterator every sorted source implements (memtable, SSTable block, table, level, merge),
 * over entries in internal-key order (see internal-key.ts). Synchronous: the sources are in
 * memory or read through the synchronous file-system seam.
 *
 * Contract:
 * - A fresh iterator is not positioned; call a seek first.
 * - `userKey()`, `seq()`, `kind()`, `value()` may only be called while `valid()`.
 * - The returned byte arrays stay valid after the iterator moves (sources return views of
 *   immutable buffers or fresh copies), so callers may keep them.
 */
import type { ValueKind } from './internal-key.ts';

export interface InternalIterator {
  valid(): boolean;
  seekToFirst(): void;
  seekToLast(): void;
  /** Positions at the first entry >= (userKey, seq, KIND_SEEK) in internal order. */
  seek(userKey: Uint8Array, seq: number): void;
  /** Positions at the last entry <= (userKey, 0, Delete): the last version of any key <= userKey. */
  seekForPrev(userKey: Uint8Array): void;
  next(): void;
  prev(): void;
  userKey(): Uint8Array;
  seq(): number;
  kind(): ValueKind;
  value(): Uint8Array;
}
