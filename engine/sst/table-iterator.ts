/**
 * The table's InternalIterator: two levels, an index-block cursor choosing the data block
 * and a data-block cursor within it (LevelDB's TwoLevelIterator). Moving off either end of a
 * data block moves the index cursor and loads the neighbouring block, skipping empty ones.
 *
 * The iterator holds a reference to nothing but its reader (a TableReader, seen through
 * `TableBlocks`, the three things it asks of one, so this file does not import the reader that
 * creates it); the caller keeps the reader referenced (TableReader.ref) while the iterator is
 * in use. Returned keys are fresh copies
 * and values are views of immutable blocks, so both outlive the iterator's next move.
 */
import { assert } from '../errors.ts';
import type { InternalIterator } from '../internal-iterator.ts';
import { KIND_SEEK, TRAILER_BYTES, ValueKind, writeTrailer } from '../internal-key.ts';
import type { Block, BlockIterator } from './block.ts';
import type { BlockHandle } from './table-format.ts';

/** What the iterator reads through: a table's index block and its data blocks (TableReader). */
export interface TableBlocks {
  readonly index: Block;
  /** The data block handle in the index cursor's current value, written into `out`. */
  handleAt(index: BlockIterator, out: BlockHandle): BlockHandle;
  readDataBlock(handle: BlockHandle): Block;
}

export class TableIterator implements InternalIterator {
  private readonly index: BlockIterator;
  /** The cursor over the current data block; undefined when past either end of the index. */
  private data: BlockIterator | undefined;
  /** One cursor reused for every block this iterator visits. */
  private cursor: BlockIterator | undefined;
  /** Offset of the block `cursor` is over, so re-seeking within it skips the cache lookup. */
  private dataOffset = -1;
  private readonly handle: BlockHandle = { offset: 0, size: 0 };
  private target = new Uint8Array(64);

  constructor(private readonly reader: TableBlocks) {
    this.index = reader.index.iterator();
  }

  valid(): boolean {
    return this.data !== undefined && this.data.valid();
  }

  seekToFirst(): void {
    this.index.seekToFirst();
    this.loadDataBlock();
    this.data?.seekToFirst();
    this.skipEmptyForward();
  }

  seekToLast(): void {
    this.index.seekToLast();
    this.loadDataBlock();
    this.data?.seekToLast();
    this.skipEmptyBackward();
  }

  seek(userKey: Uint8Array, seq: number): void {
    this.seekEncoded(this.encodeTarget(userKey, seq, KIND_SEEK));
  }

  seekForPrev(userKey: Uint8Array): void {
    // (userKey, 0, Delete) is the last internal key any version of userKey can have.
    const length = this.encodeTarget(userKey, 0, ValueKind.Delete);
    this.seekEncoded(length);
    if (!this.valid()) this.seekToLast();
    else if (this.data!.compareKey(this.target, length) > 0) this.prev();
  }

  next(): void {
    assert(this.valid(), 'TableIterator.next while not valid');
    this.data!.next();
    this.skipEmptyForward();
  }

  prev(): void {
    assert(this.valid(), 'TableIterator.prev while not valid');
    this.data!.prev();
    this.skipEmptyBackward();
  }

  userKey(): Uint8Array {
    return this.data!.userKey();
  }

  seq(): number {
    return this.data!.seq();
  }

  kind(): ValueKind {
    return this.data!.kind();
  }

  value(): Uint8Array {
    return this.data!.value();
  }

  private seekEncoded(length: number): void {
    this.index.seek(this.target, length);
    this.loadDataBlock();
    this.data?.seek(this.target, length);
    this.skipEmptyForward();
  }

  /** Points `data` at the block the index cursor names, or clears it past the index's ends. */
  private loadDataBlock(): void {
    if (!this.index.valid()) {
      this.data = undefined;
      return;
    }
    const handle = this.reader.handleAt(this.index, this.handle);
    // Every caller repositions `data` next, so an unchanged block needs no reload.
    if (this.cursor === undefined || handle.offset !== this.dataOffset) {
      const block = this.reader.readDataBlock(handle);
      if (this.cursor === undefined) this.cursor = block.iterator();
      else this.cursor.reset(block);
      this.dataOffset = handle.offset;
    }
    this.data = this.cursor;
  }

  private skipEmptyForward(): void {
    while (this.data === undefined || !this.data.valid()) {
      if (!this.index.valid()) {
        this.data = undefined;
        return;
      }
      this.index.next();
      this.loadDataBlock();
      this.data?.seekToFirst();
    }
  }

  private skipEmptyBackward(): void {
    while (this.data === undefined || !this.data.valid()) {
      if (!this.index.valid()) {
        this.data = undefined;
        return;
      }
      this.index.prev();
      this.loadDataBlock();
      this.data?.seekToLast();
    }
  }

  private encodeTarget(userKey: Uint8Array, seq: number, kind: ValueKind): number {
    const length = userKey.length + TRAILER_BYTES;
    if (this.target.length < length) this.target = new Uint8Array(length * 2);
    this.target.set(userKey, 0);
    writeTrailer(this.target, userKey.length, seq, kind);
    return length;
  }
}
