/**
 * A table's index block decoded once, when the table opens, into flat arrays for point
 * lookups: every separator key in one byte array and every data block handle in two number
 * arrays, so finding the block for a key is a binary search over separators compared in
 * place, with no entry header, varint or restart offset decoded per probe. Seeking the index
 * block itself took about half of BlockIterator.seek's share (8% of a batched readrandom's
 * samples under perf); the decoded arrays take about as much memory as the index block.
 *
 * Most probes compare one integer: the table's separators but the last share a prefix (a
 * table covers a narrow key range: 12 of 16 bytes in the benchmark's keys; the last is cut
 * short past the table's last key, "1" after "0000...1234"), and `words` holds the 4 bytes of
 * each separator's user key after that prefix, big-endian, zero-padded past its end. Words
 * that differ order their keys the same way (a pad is below every byte, and a key that ends
 * sorts before its extensions); equal words fall back to comparing whole internal keys.
 *
 * The index block was verified (checksum) before this decodes it; a malformed entry or handle
 * is a CorruptionError here, at open, instead of at the first lookup that meets it. Iterators
 * still walk the index block (table-iterator.ts); both read the same entries.
 *
 * Immutable after `decode`; pure, no I/O.
 */
import { CorruptionError } from '../errors.ts';
import { TRAILER_BYTES } from '../internal-key.ts';
import { type Block, compareInternalRange } from './block.ts';
import { type BlockHandle, decodeBlockHandle } from './table-format.ts';

export class PointIndex {
  private constructor(
    /** Separator i is keys[keyStarts[i], keyStarts[i + 1]): an encoded internal key. */
    private readonly keys: Uint8Array,
    private readonly keyStarts: Uint32Array,
    private readonly blockOffsets: Float64Array,
    private readonly blockSizes: Float64Array,
    /** Bytes every separator's user key but the last's starts with. */
    private readonly prefixLength: number,
    /** Per separator: its user key's 4 bytes after the prefix (see the file comment). */
    private readonly words: Uint32Array,
  ) {}

  /** Decodes every entry of a verified index block; CorruptionError if one is malformed. */
  static decode(index: Block, file: string): PointIndex {
    const it = index.iterator();
    let count = 0;
    let keyBytes = 0;
    for (it.seekToFirst(); it.valid(); it.next()) {
      count++;
      keyBytes += it.keyLength;
    }
    const keys = new Uint8Array(keyBytes);
    const keyStarts = new Uint32Array(count + 1);
    const blockOffsets = new Float64Array(count);
    const blockSizes = new Float64Array(count);
    const handle: BlockHandle = { offset: 0, size: 0 };
    let i = 0;
    let at = 0;
    for (it.seekToFirst(); it.valid(); it.next(), i++) {
      if (decodeBlockHandle(index.data, it.valueOffset, it.valueOffset + it.valueLength, handle) < 0) {
        throw new CorruptionError(`sst: index entry at byte ${it.entryOffset()} holds a malformed block handle`, { file });
      }
      keys.set(it.key.subarray(0, it.keyLength), at);
      keyStarts[i] = at;
      at += it.keyLength;
      blockOffsets[i] = handle.offset;
      blockSizes[i] = handle.size;
    }
    keyStarts[count] = at;
    const prefixLength = sharedPrefixLength(keys, keyStarts);
    const words = new Uint32Array(count);
    for (let j = 0; j < count; j++) words[j] = wordAt(keys, keyStarts[j]!, keyStarts[j + 1]! - TRAILER_BYTES, prefixLength);
    return new PointIndex(keys, keyStarts, blockOffsets, blockSizes, prefixLength, words);
  }

  /** Data blocks listed. */
  get count(): number {
    return this.blockOffsets.length;
  }

  /** The first entry whose separator is >= target[0, targetLength) (internal order); count if none. */
  lowerBound(target: Uint8Array, targetLength: number): number {
    let lo = 0;
    let hi = this.blockOffsets.length;
    const prefix = this.prefixLength;
    const targetUserLength = targetLength - TRAILER_BYTES;
    if (hi <= 1 || targetUserLength < prefix) return this.lowerBoundIn(lo, hi, target, targetLength);
    // Separators [0, last) share the prefix: outside it, the target is below or above them all.
    const last = hi - 1;
    hi = last;
    const keys = this.keys;
    const first = this.keyStarts[0]!;
    for (let i = 0; i < prefix; i++) {
      const d = target[i]! - keys[first + i]!;
      if (d !== 0) return d < 0 ? 0 : this.lowerBoundIn(last, last + 1, target, targetLength);
    }
    const word = wordAt(target, 0, targetUserLength, prefix);
    const words = this.words;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const w = words[mid]!;
      if (w === word) {
        // Only the run of separators with this word needs whole keys compared: those before
        // it are below the target, those after it above. (Searching all of [lo, hi) instead
        // was most of lowerBound's time: keys ten apart share a word in the benchmark.)
        let from = mid;
        while (from > lo && words[from - 1] === word) from--;
        let to = mid + 1;
        while (to < hi && words[to] === word) to++;
        return this.lowerBoundIn(from, to === last ? last + 1 : to, target, targetLength);
      }
      if (w < word) lo = mid + 1;
      else hi = mid;
    }
    return lo < last ? lo : this.lowerBoundIn(last, last + 1, target, targetLength);
  }

  /** lowerBound within [lo, hi), comparing whole internal keys. */
  private lowerBoundIn(lo: number, hi: number, target: Uint8Array, targetLength: number): number {
    const starts = this.keyStarts;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const from = starts[mid]!;
      if (compareInternalRange(this.keys, from, starts[mid + 1]! - from, target, 0, targetLength) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Entry i's data block handle, into `out`. REQUIRES: 0 <= i < count. */
  handle(i: number, out: BlockHandle): BlockHandle {
    out.offset = this.blockOffsets[i]!;
    out.size = this.blockSizes[i]!;
    return out;
  }
}

/** The length of the prefix the user keys of every separator but the last share (keys[starts[i], starts[i + 1]) are internal keys). */
function sharedPrefixLength(keys: Uint8Array, starts: Uint32Array): number {
  const count = starts.length - 2;
  if (count <= 0) return 0;
  const first = starts[0]!;
  let length = starts[1]! - first - TRAILER_BYTES;
  for (let j = 1; j < count && length > 0; j++) {
    const at = starts[j]!;
    length = Math.min(length, starts[j + 1]! - at - TRAILER_BYTES);
    let i = 0;
    while (i < length && keys[at + i] === keys[first + i]) i++;
    length = i;
  }
  return length;
}

/** Bytes [from + skip, from + skip + 4) of the user key key[from, end), big-endian, zero past `end`. */
function wordAt(key: Uint8Array, from: number, end: number, skip: number): number {
  let word = 0;
  for (let i = from + skip; i < from + skip + 4; i++) word = (word << 8) | (i < end ? key[i]! : 0);
  return word >>> 0;
}
