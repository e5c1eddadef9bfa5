/**
 * What the engine knows about one SSTable without opening it: its number, size, key range
 * and sequence range. Recorded in the MANIFEST (see version-edit.ts).
 *
 * The key range [smallest, largest] covers the table's entries and its range tombstones; a
 * bound taken from a tombstone's (exclusive) end claims that one key too, which is harmless:
 * no other table of the level may start there (see range-tombstones.ts, isExclusiveBound).
 */
import type { ValueKind } from '../internal-key.ts';

export interface KeyBound {
  userKey: Uint8Array;
  seq: number;
  kind: ValueKind;
}

export interface FileMeta {
  /** File number: the table lives in `NNNNNN.sst`. */
  number: number;
  fileBytes: number;
  smallest: KeyBound;
  largest: KeyBound;
  entries: number;
  tombstones: number;
  /** Range tombstones in the table; absent in MANIFESTs written before range deletions (0). */
  rangeTombstones?: number;
  seqMin: number;
  seqMax: number;
}

/** `000042.sst` for file number 42: zero-padded so names sort by number. */
export function tableFileName(number: number): string {
  return `${String(number).padStart(6, '0')}.sst`;
}

export function walFileName(number: number): string {
  return `${String(number).padStart(6, '0')}.wal`;
}

export function manifestFileName(number: number): string {
  return `MANIFEST-${String(number).padStart(6, '0')}`;
}

export type ParsedFileName =
  | { type: 'table' | 'wal' | 'manifest'; number: number }
  | { type: 'current' | 'lock' | 'temp' };

/** Recognises the engine's own file names; anything else is left alone. */
export function parseFileName(name: string): ParsedFileName | undefined {
  if (name === 'CURRENT') return { type: 'current' };
  if (name === 'LOCK') return { type: 'lock' };
  if (name.endsWith('.tmp')) return { type: 'temp' };
  let m = /^(\d{6,})\.(sst|wal)$/.exec(name);
  if (m) return { type: m[2] === 'sst' ? 'table' : 'wal', number: Number(m[1]) };
  m = /^MANIFEST-(\d{6,})$/.exec(name);
  if (m) return { type: 'manifest', number: Number(m[1]) };
  return undefined;
}
