/**
 * A table's index block decoded once, when the table opens, into flat arrays for point
 * lookups: every separator key in one byte array and every data block handle in two number
 * arrays, so finding the block for a key is a binary search over separators compared in
 * place, with no entry header, varint or restart offset decoded per probe. Seeking the index
 * block itself took about half of BlockIterator.seek's share (8% of a batched readrandom's
 * samples under perf); the decoded arrays take about as much memory as the index block.
 *
 * The index block was verified (checksum) before this decodes it; a malformed entry or handle
 * is a CorruptionError here, at open, instead of at the first lookup that meets it. Iterators
 * still walk the index block (table-iterator.ts); both read the same entries.
 *
 * Immutable after `decode`; pure, no I/O.
 */
import { CorruptionError } from '../errors.ts';
import { type Block, compareInternalRange } from './block.ts';
import { type BlockHandle, decodeBlockHandle } from './table-format.ts';

export class PointIndex {
  private constructor(
    /** Separator i is keys[keyStarts[i], keyStarts[i + 1]): an encoded internal key. */
    private readonly keys: Uint8Array,
    private readonly keyStarts: Uint32Array,
    private readonly blockOffsets: Float64Array,
    private readonly blockSizes: Float64Array,
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
    return new PointIndex(keys, keyStarts, blockOffsets, blockSizes);
  }

  /** Data blocks listed. */
  get count(): number {
    return this.blockOffsets.length;
  }

  /** The first entry whose separator is >= target[0, targetLength) (internal order); count if none. */
  lowerBound(target: Uint8Array, targetLength: number): number {
    let lo = 0;
    let hi = this.blockOffsets.length;
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
