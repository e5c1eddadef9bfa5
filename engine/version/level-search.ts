/**
 * Finding the one file of a level >= 1 that may hold a user key, for point lookups: a binary
 * search over the files' largest keys that compares one integer per probe, as the point index
 * does over separators (sst/point-index.ts). The level's largest keys share a prefix (the
 * benchmark's 16-digit keys: 10 bytes at 1,000,000 keys), which is compared once per lookup;
 * `words` holds each largest key's 4 bytes after it, big-endian, zero-padded past its end.
 * Words that differ order their keys the same way; equal words fall back to comparing whole
 * keys, within the run of files sharing the word. Byte-wise binary search over the FileMeta
 * objects was most of a cached lookup's level search (4-6% of a batched readrandom's samples).
 *
 * Immutable; built once per version and level, on the first lookup. Pure, no I/O.
 */
import { compareBytes } from '../util/bytes.ts';

export class LevelSearch {
  private constructor(
    /** Each file's largest user key, in the level's (ascending) order. */
    private readonly largest: readonly Uint8Array[],
    /** The prefix every largest key starts with. */
    private readonly prefix: Uint8Array,
    private readonly words: Uint32Array,
  ) {}

  /** REQUIRES: `largest` ascends (a level's files, sorted and disjoint). */
  static of(largest: readonly Uint8Array[]): LevelSearch {
    let prefixLength = largest.length === 0 ? 0 : largest[0]!.length;
    for (let j = 1; j < largest.length && prefixLength > 0; j++) {
      const key = largest[j]!;
      const limit = Math.min(prefixLength, key.length);
      let i = 0;
      while (i < limit && key[i] === largest[0]![i]) i++;
      prefixLength = i;
    }
    const prefix = largest.length === 0 ? new Uint8Array(0) : largest[0]!.slice(0, prefixLength);
    const words = new Uint32Array(largest.length);
    for (let j = 0; j < largest.length; j++) words[j] = wordAt(largest[j]!, prefixLength);
    return new LevelSearch(largest, prefix, words);
  }

  /** The index of the first file whose largest key is >= userKey; the file count if none. */
  findFile(userKey: Uint8Array): number {
    const count = this.largest.length;
    const prefix = this.prefix;
    const n = userKey.length < prefix.length ? userKey.length : prefix.length;
    for (let i = 0; i < n; i++) {
      const d = userKey[i]! - prefix[i]!;
      if (d !== 0) return d < 0 ? 0 : count;
    }
    // A key that is a proper prefix of the prefix sorts before every largest key.
    if (n < prefix.length) return 0;
    const word = wordAt(userKey, prefix.length);
    const words = this.words;
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const w = words[mid]!;
      if (w < word) lo = mid + 1;
      else if (w > word) hi = mid;
      else {
        let from = mid;
        while (from > lo && words[from - 1] === word) from--;
        let to = mid + 1;
        while (to < hi && words[to] === word) to++;
        while (from < to) {
          const m = (from + to) >>> 1;
          if (compareBytes(this.largest[m]!, userKey) < 0) from = m + 1;
          else to = m;
        }
        return from;
      }
    }
    return lo;
  }
}

/** Bytes [skip, skip + 4) of `key`, big-endian, zero past its end. */
function wordAt(key: Uint8Array, skip: number): number {
  let word = 0;
  for (let i = skip; i < skip + 4; i++) word = (word << 8) | (i < key.length ? key[i]! : 0);
  return word >>> 0;
}
