/**
 * Internal keys: a user key plus the sequence number and kind of the write that made it.
 * Ordering (the whole engine relies on it): user key bytewise ascending, then sequence number
 * descending, then kind descending — so the newest version of a key comes first, and a seek
 * for (key, seq, KIND_SEEK) lands on the newest version visible at `seq`.
 *
 * On disk (SSTables) an internal key is `user_key ++ trailer`, where the trailer is the
 * 64-bit little-endian value `seq * 256 + kind`, as in LevelDB. These constants are on disk.
 */
import { compareBytes } from './util/bytes.ts';

export const enum ValueKind {
  Delete = 0,
  Put = 1,
  /**
   * A range tombstone (range-tombstones.ts): in a write batch its key is the range's start and
   * its value the end; in a table it lives in the range deletion block, never among the data
   * blocks' entries or in a memtable's skiplist.
   */
  RangeDelete = 2,
}

/**
 * The highest kind of a point entry: seeking with it finds every entry at the seek's sequence
 * number (range tombstones are never among the entries a seek walks).
 */
export const KIND_SEEK = ValueKind.Put;
export const TRAILER_BYTES = 8;
/** Sequence numbers are JS safe integers (they fit the trailer's 56 bits). */
export const SEQ_MAX = Number.MAX_SAFE_INTEGER;

export interface InternalKey {
  userKey: Uint8Array;
  seq: number;
  kind: ValueKind;
}

export function compareInternal(aKey: Uint8Array, aSeq: number, aKind: number, bKey: Uint8Array, bSeq: number, bKind: number): number {
  const c = compareBytes(aKey, bKey);
  if (c !== 0) return c;
  if (aSeq !== bSeq) return aSeq > bSeq ? -1 : 1;
  return bKind - aKind;
}

/** Encodes `userKey ++ trailer`. */
export function encodeInternalKey(userKey: Uint8Array, seq: number, kind: ValueKind): Uint8Array {
  const out = new Uint8Array(userKey.length + TRAILER_BYTES);
  out.set(userKey, 0);
  writeTrailer(out, userKey.length, seq, kind);
  return out;
}

export function writeTrailer(out: Uint8Array, at: number, seq: number, kind: number): void {
  const low = (seq % 0x100_0000) * 256 + kind;
  const high = Math.floor(seq / 0x100_0000);
  out[at] = low & 0xff;
  out[at + 1] = (low >>> 8) & 0xff;
  out[at + 2] = (low >>> 16) & 0xff;
  out[at + 3] = (low >>> 24) & 0xff;
  out[at + 4] = high & 0xff;
  out[at + 5] = (high >>> 8) & 0xff;
  out[at + 6] = (high >>> 16) & 0xff;
  out[at + 7] = (high >>> 24) & 0xff;
}

/** The user key part of an encoded internal key (a view, not a copy). */
export function userKeyOf(internalKey: Uint8Array): Uint8Array {
  return internalKey.subarray(0, internalKey.length - TRAILER_BYTES);
}

export function seqOf(internalKey: Uint8Array): number {
  const at = internalKey.length - TRAILER_BYTES;
  const low = (internalKey[at]! | (internalKey[at + 1]! << 8) | (internalKey[at + 2]! << 16) | (internalKey[at + 3]! << 24)) >>> 0;
  const high = (internalKey[at + 4]! | (internalKey[at + 5]! << 8) | (internalKey[at + 6]! << 16) | (internalKey[at + 7]! << 24)) >>> 0;
  return high * 0x100_0000 + Math.floor(low / 256);
}

export function kindOf(internalKey: Uint8Array): ValueKind {
  return internalKey[internalKey.length - TRAILER_BYTES]! as ValueKind;
}

/** Compares two encoded internal keys in the order described at the top of this file. */
export function compareEncodedInternal(a: Uint8Array, b: Uint8Array): number {
  const c = compareBytes(userKeyOf(a), userKeyOf(b));
  if (c !== 0) return c;
  const sa = seqOf(a);
  const sb = seqOf(b);
  if (sa !== sb) return sa > sb ? -1 : 1;
  return kindOf(b) - kindOf(a);
}
