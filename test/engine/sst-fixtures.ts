/**
 * Shared by the sst-*.test.ts files: random entries, a sorted model to check tables against,
 * and a helper that builds a table in a MemoryFileSystem.
 */
import { MemoryFileSystem, seededRandom } from '../../engine/fs/memory-file-system.ts';
import { compareInternal, ValueKind } from '../../engine/internal-key.ts';
import { compareBytes } from '../../engine/util/bytes.ts';
import type { RangeTombstone } from '../../engine/range-tombstones.ts';
import type { BlockCache } from '../../engine/sst/block-cache.ts';
import { type TableBuilderOptions, TableBuilder, type TableMetadata } from '../../engine/sst/table-builder.ts';
import { TableReader } from '../../engine/sst/table-reader.ts';

export interface Entry {
  userKey: Uint8Array;
  seq: number;
  kind: ValueKind;
  value: Uint8Array;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function sortEntries(entries: Entry[]): Entry[] {
  return entries.sort((a, b) => compareInternal(a.userKey, a.seq, a.kind, b.userKey, b.seq, b.kind));
}

/**
 * `count` entries over random user keys drawn from a small alphabet (so keys share prefixes
 * and repeat as several versions), with unique sequence numbers and ~20% tombstones.
 */
export function randomEntries(count: number, seed: number, options: { keyBytesMax?: number; valueBytesMax?: number } = {}): Entry[] {
  const random = seededRandom(seed);
  const keyBytesMax = options.keyBytesMax ?? 12;
  const valueBytesMax = options.valueBytesMax ?? 40;
  const keys: Uint8Array[] = [];
  const entries: Entry[] = [];
  for (let seq = 1; seq <= count; seq++) {
    let userKey: Uint8Array;
    if (keys.length > 0 && random() < 0.3) userKey = keys[Math.floor(random() * keys.length)]!;
    else {
      userKey = randomBytes(random, 1 + Math.floor(random() * keyBytesMax), 4);
      keys.push(userKey);
    }
    const kind = random() < 0.2 ? ValueKind.Delete : ValueKind.Put;
    const value = kind === ValueKind.Delete ? new Uint8Array(0) : randomBytes(random, Math.floor(random() * valueBytesMax), 256);
    entries.push({ userKey, seq, kind, value });
  }
  return sortEntries(entries);
}

/** Random bytes: letters from 'a' when `alphabet` <= 26, else any byte below `alphabet`. */
export function randomBytes(random: () => number, length: number, alphabet: number): Uint8Array {
  const base = alphabet <= 26 ? 0x61 : 0;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = base + Math.floor(random() * alphabet);
  return out;
}

export interface BuiltTable {
  fs: MemoryFileSystem;
  path: string;
  metadata: TableMetadata;
  open(cache?: BlockCache): TableReader;
}

export function buildTable(entries: readonly Entry[], options: Partial<TableBuilderOptions> = {}, path = '/db/000007.sst', rangeTombstones: readonly RangeTombstone[] = []): BuiltTable {
  const fs = new MemoryFileSystem();
  fs.mkdirp('/db');
  const file = fs.createWritable(path);
  const builder = new TableBuilder(file, options);
  for (const e of entries) builder.add(e.userKey, e.seq, e.kind, e.value);
  for (const t of rangeTombstones) builder.addRangeTombstone(t.start, t.end, t.seq);
  const metadata = builder.finish();
  file.close();
  return { fs, path, metadata, open: (cache?: BlockCache) => TableReader.open(fs.openReadable(path), 7, cache) };
}

/** The model's answer to get(userKey, seq). */
export function modelGet(sorted: readonly Entry[], userKey: Uint8Array, seq: number): Entry | undefined {
  return sorted.find((e) => compareBytes(e.userKey, userKey) === 0 && e.seq <= seq);
}

/** Index of the first entry >= (userKey, seq, Put), or sorted.length. */
export function modelSeek(sorted: readonly Entry[], userKey: Uint8Array, seq: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = sorted[mid]!;
    if (compareInternal(e.userKey, e.seq, e.kind, userKey, seq, ValueKind.Put) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the last entry whose user key is <= userKey, or -1. */
export function modelSeekForPrev(sorted: readonly Entry[], userKey: Uint8Array): number {
  let i = sorted.length - 1;
  while (i >= 0 && compareBytes(sorted[i]!.userKey, userKey) > 0) i--;
  return i;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** A readable description of an entry, for assertion messages. */
export function describeEntry(e: { userKey: Uint8Array; seq: number; kind: ValueKind; value: Uint8Array } | undefined): string {
  return e === undefined ? 'undefined' : `${hex(e.userKey)}@${e.seq}/${e.kind}=${hex(e.value)}`;
}
