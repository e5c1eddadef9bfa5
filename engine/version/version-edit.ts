/**
 * A version edit: one change to the LSM shape (files added and removed per level) plus the
 * counters recovery needs. Each edit is one record of the MANIFEST, in the log format shared
 * with the WAL (log-format.ts). The record payload is msgpack (msgpackr): edits are small and
 * rare, so a self-describing encoding is worth more than a hand-packed one.
 * Layout, version and a worked example: docs/formats/manifest.md.
 */
import { Packr } from 'msgpackr';
import { CorruptionError } from '../errors.ts';
import type { FileMeta } from './file-meta.ts';

/** On disk: bump when the edit's shape changes incompatibly. */
export const MANIFEST_FORMAT_VERSION = 1;

export interface VersionEdit {
  /** WAL files numbered below this are fully reflected in tables. */
  logNumber?: number;
  nextFileNumber?: number;
  lastSequence?: number;
  /** [level, file number] pairs removed. */
  deletedFiles?: Array<[number, number]>;
  /** [level, file] pairs added. */
  newFiles?: Array<[number, FileMeta]>;
  /** Per level, the user key where the next size compaction starts (round-robin). */
  compactPointers?: Array<[number, Uint8Array]>;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeVersionEdit(edit: VersionEdit): Uint8Array {
  return packr.pack({ v: MANIFEST_FORMAT_VERSION, ...edit });
}

export function decodeVersionEdit(bytes: Uint8Array, fileName: string): VersionEdit {
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (cause) {
    throw new CorruptionError('manifest: undecodable version edit', { file: fileName, cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CorruptionError('manifest: version edit is not a map', { file: fileName });
  const { v, ...edit } = raw as { v?: unknown } & VersionEdit;
  if (v !== MANIFEST_FORMAT_VERSION) {
    throw new CorruptionError(`manifest: unsupported format version ${JSON.stringify(v)}`, { file: fileName });
  }
  validateEdit(edit, fileName);
  return edit;
}

function validateEdit(edit: VersionEdit, fileName: string): void {
  const bad = (why: string): never => {
    throw new CorruptionError(`manifest: ${why}`, { file: fileName });
  };
  for (const name of ['logNumber', 'nextFileNumber', 'lastSequence'] as const) {
    const value = edit[name];
    if (value !== undefined && !Number.isSafeInteger(value)) bad(`${name} is not an integer`);
  }
  for (const name of ['newFiles', 'deletedFiles', 'compactPointers'] as const) {
    const list = edit[name];
    if (list !== undefined && (!Array.isArray(list) || !list.every(Array.isArray))) bad(`${name} is not a list of pairs`);
  }
  for (const [level, meta] of edit.newFiles ?? []) {
    if (!Number.isInteger(level) || !meta || !Number.isSafeInteger(meta.number)) bad('malformed new file entry');
    if (!(meta.smallest?.userKey instanceof Uint8Array) || !(meta.largest?.userKey instanceof Uint8Array)) {
      bad(`file ${meta.number} has no key range`);
    }
  }
  for (const pair of edit.deletedFiles ?? []) {
    if (!Number.isInteger(pair[0]) || !Number.isSafeInteger(pair[1])) bad('malformed deleted file entry');
  }
  for (const [level, key] of edit.compactPointers ?? []) {
    if (!Number.isInteger(level) || !(key instanceof Uint8Array)) bad('malformed compact pointer');
  }
}
