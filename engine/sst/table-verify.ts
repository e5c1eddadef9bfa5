/**
 * A full check of one table, for sst-dump --verify and for paranoid callers: re-reads every
 * block from the file (bypassing the block cache, which holds verified copies), checks each
 * checksum, that data blocks tile the data region, that keys ascend strictly in internal order
 * across the whole table, that every index separator sits between its block and the next,
 * that the bloom filter admits every key, and that the properties match what was found.
 *
 * It reports instead of throwing, so one run lists every damaged block; only I/O errors
 * propagate. Corruption found is also a CorruptionError in `errors`, naming the file.
 */
import { assert, CorruptionError } from '../errors.ts';
import { encodeInternalKey, TRAILER_BYTES, userKeyOf } from '../internal-key.ts';
import { bytesEqual, compareBytes } from '../util/bytes.ts';
import { isExclusiveBound, keySuccessor } from '../range-tombstones.ts';
import { compareInternalRange } from './block.ts';
import type { Block, BlockIterator } from './block.ts';
import { bloomMayContain } from './bloom.ts';
import type { BlockHandle } from './table-format.ts';
import { readBlockContents, type TableReader } from './table-reader.ts';

export interface BlockCheck {
  what: 'data block' | 'range deletion block' | 'filter block' | 'properties block' | 'index block';
  offset: number;
  size: number;
  /** The block's checksum matched and its structure decoded. */
  ok: boolean;
  entries: number;
  error?: string;
}

export interface TableVerifyReport {
  file: string;
  ok: boolean;
  blocks: BlockCheck[];
  entries: number;
  /** Every problem found, as errors naming the file; empty when ok. */
  errors: CorruptionError[];
}

/** Limits how many problems one report collects, so a shredded file gives a readable report. */
const VERIFY_ERRORS_MAX = 100;

/**
 * Re-reads every block of `reader`'s table from its file and checks checksums, key order and
 * properties. REQUIRES: the reader is open.
 *
 * @example
 * ```ts
 * const report = verifyTable(TableReader.open(fs.openReadable('/db/000012.sst'), 12));
 * if (!report.ok) for (const err of report.errors) console.error(err.message);
 * ```
 */
export function verifyTable(reader: TableReader): TableVerifyReport {
  assert(!reader.closed, `table ${reader.path} verified after close`);
  const report: TableVerifyReport = { file: reader.path, ok: true, blocks: [], entries: 0, errors: [] };
  const problem = (message: string, cause?: unknown) => {
    report.ok = false;
    if (report.errors.length < VERIFY_ERRORS_MAX) report.errors.push(cause instanceof CorruptionError ? cause : new CorruptionError(message, { cause, file: reader.path }));
  };
  const order = verifyDataBlocks(reader, report, problem);
  const { footer } = reader;
  const metaBlocks = [['range deletion block', footer.rangeDel], ['filter block', footer.filter], ['properties block', footer.properties], ['index block', footer.index]] as const;
  for (const [what, handle] of metaBlocks) {
    if (what === 'range deletion block' && footer.formatVersion === 1) continue;
    report.blocks.push(checkMetaBlock(reader, what, handle, problem));
  }
  checkProperties(reader, report, order, problem);
  return report;
}

type Problem = (message: string, cause?: unknown) => void;
type Separator = { key: Uint8Array; length: number };

/** Walks the index, checking each data block, its keys, and its separator. */
function verifyDataBlocks(reader: TableReader, report: TableVerifyReport, problem: Problem): KeyOrder {
  const index = reader.index.iterator();
  const order = new KeyOrder();
  let expectedOffset = 0;
  let separator: Separator | undefined;
  for (index.seekToFirst(); index.valid(); index.next()) {
    let handle: BlockHandle;
    try {
      handle = { ...reader.handleAt(index) };
    } catch (err) {
      problem('sst: malformed index entry', err);
      return order;
    }
    if (handle.offset !== expectedOffset) problem(`sst: data block at offset ${handle.offset} does not follow the previous block (expected offset ${expectedOffset})`);
    expectedOffset = handle.offset + handle.size + 4;
    const check: BlockCheck = { what: 'data block', offset: handle.offset, size: handle.size, ok: false, entries: 0 };
    report.blocks.push(check);
    let block: Block;
    try {
      block = reader.readDataBlockUncached(handle);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      check.error = err.message;
      problem(err.message, err);
      order.forget();
      continue;
    }
    check.entries = walkBlock(reader, block, order, handle, problem, separator);
    check.ok = check.error === undefined;
    report.entries += check.entries;
    separator = { key: index.key.slice(0, index.keyLength), length: index.keyLength };
    if (order.has() && order.compareWith(separator.key, separator.length) > 0) {
      problem(`sst: index separator for data block at offset ${handle.offset} is below the block's last key`);
    }
  }
  if (expectedOffset !== reader.dataEnd) problem(`sst: data blocks end at ${expectedOffset}, the next block starts at ${reader.dataEnd}`);
  return order;
}

/** Checks one block's entries; returns how many it holds. */
function walkBlock(reader: TableReader, block: Block, order: KeyOrder, handle: BlockHandle, problem: Problem, separator?: Separator): number {
  const it: BlockIterator = block.iterator();
  let entries = 0;
  try {
    for (it.seekToFirst(); it.valid(); it.next()) {
      if (entries === 0 && separator && it.compareKey(separator.key, separator.length) <= 0) {
        problem(`sst: first key of data block at offset ${handle.offset} is not above the previous block's index separator`);
      }
      entries++;
      if (order.has() && order.compareWith(it.key, it.keyLength) >= 0) {
        problem(`sst: keys out of order at byte ${it.entryOffset()} of data block at offset ${handle.offset}`);
      }
      order.remember(it.key, it.keyLength);
      if (!reader.mayContain(it.userKey())) problem(`sst: bloom filter misses a key of data block at offset ${handle.offset}`);
    }
  } catch (err) {
    if (!(err instanceof CorruptionError)) throw err;
    problem(err.message, err);
    order.forget();
  }
  return entries;
}

function checkMetaBlock(reader: TableReader, what: BlockCheck['what'], handle: BlockHandle, problem: Problem): BlockCheck {
  const check: BlockCheck = { what, offset: handle.offset, size: handle.size, ok: true, entries: 0 };
  try {
    readBlockContents(reader.file, handle, what);
  } catch (err) {
    if (!(err instanceof CorruptionError)) throw err;
    check.ok = false;
    check.error = err.message;
    problem(err.message, err);
  }
  return check;
}

function checkProperties(reader: TableReader, report: TableVerifyReport, order: KeyOrder, problem: Problem): void {
  const p = reader.properties;
  if (report.entries !== p.entries) problem(`sst: properties say ${p.entries} entries, the data blocks hold ${report.entries}`);
  const dataBlocks = report.blocks.filter((b) => b.what === 'data block').length;
  if (dataBlocks !== p.dataBlocks) problem(`sst: properties say ${p.dataBlocks} data blocks, the index names ${dataBlocks}`);
  if (reader.rangeTombstones.length > 0) {
    checkBoundsCover(reader, order, problem);
    return;
  }
  const smallest = encodeInternalKey(p.smallest.userKey, p.smallest.seq, p.smallest.kind);
  if (order.first && !bytesEqual(order.first, smallest)) problem('sst: properties name a smallest key that is not the first key');
  const largest = encodeInternalKey(p.largest.userKey, p.largest.seq, p.largest.kind);
  if (order.has() && order.compareWith(largest, largest.length) !== 0) problem('sst: properties name a largest key that is not the last key');
}

/** With range tombstones, the bounds must cover the first and last keys and every tombstone. */
function checkBoundsCover(reader: TableReader, order: KeyOrder, problem: Problem): void {
  const { smallest, largest } = reader.properties;
  const below = (key: Uint8Array) => compareBytes(key, smallest.userKey) < 0;
  const above = (key: Uint8Array) => compareBytes(key, largest.userKey) > 0;
  // An exclusive end may reach the bound; an inclusive bound L covers ends up to L ++ 0x00.
  const endLimit = isExclusiveBound(largest) ? largest.userKey : keySuccessor(largest.userKey);
  if (order.first && below(userKeyOf(order.first))) problem('sst: the first key lies below the smallest key the properties name');
  if (order.has() && above(order.lastUserKey())) problem('sst: the last key lies above the largest key the properties name');
  for (const t of reader.rangeTombstones) {
    if (below(t.start) || compareBytes(t.end, endLimit) > 0) problem(`sst: range tombstone at seq ${t.seq} lies outside the table's bounds`);
  }
}

/** The last key seen, copied, for order checks across blocks. */
class KeyOrder {
  private key = new Uint8Array(64);
  private length = -1;
  /** The first key of the table, if its first block was readable. */
  first: Uint8Array | undefined;
  private seen = false;

  has(): boolean {
    return this.length >= 0;
  }

  /** Compares the remembered key with key[0, length). */
  compareWith(key: Uint8Array, length: number): number {
    return compareInternalRange(this.key, 0, this.length, key, 0, length);
  }

  remember(key: Uint8Array, length: number): void {
    if (!this.seen) this.first = key.slice(0, length);
    this.seen = true;
    if (this.key.length < length) this.key = new Uint8Array(length * 2);
    this.key.set(key.subarray(0, length));
    this.length = length;
  }

  /** The remembered key's user key. REQUIRES: has(). */
  lastUserKey(): Uint8Array {
    return this.key.slice(0, this.length - TRAILER_BYTES);
  }

  /** After a damaged block, order is checked afresh from the next good one. */
  forget(): void {
    this.seen = true;
    this.length = -1;
  }
}
