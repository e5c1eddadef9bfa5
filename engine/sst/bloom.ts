/**
 * The SSTable's bloom filter: one filter per table over the table's distinct user keys, stored
 * as raw bytes, in LevelDB's layout so its numbers and reasoning carry over:
 *
 *   filter := bits[ceil(n * bitsPerKey / 8), at least 8 bytes] k:u8
 *
 * A key sets k bits chosen by double hashing (Kirsch–Mitzenmacher) from one 32-bit hash:
 * `h, h + delta, h + 2*delta, ...` modulo the bit count, with `delta = rotr(h, 17)`.
 * k = round(bitsPerKey * ln 2), clamped to [1, 30]; about 1% false positives at 10 bits/key.
 * A `k` above 30 is reserved for other encodings and read as "may contain" (never a false
 * negative), as LevelDB does. The bit layout and the hash below are on disk: changing either
 * breaks every existing table.
 *
 * Why this and not the `bloom-filters` package: this filter hashes a Uint8Array in place with
 * no allocation, probes in tens of nanoseconds, and is a byte array that goes into the file as
 * is; the package serializes only as JSON. Numbers in docs/decisions.md.
 *
 * Pure functions; no I/O.
 */

/** Seed of the hash; on disk (part of the filter's definition). */
export const BLOOM_HASH_SEED = 0xbc9f1d34;
/** Largest k this code writes; larger values in a file mean "unknown encoding". */
export const BLOOM_PROBES_MAX = 30;
/** Smallest filter, so tiny tables do not get a useless few-bit filter. */
const BLOOM_BITS_MIN = 64;

/**
 * LevelDB's Hash (util/hash.cc): murmur-like, 4 bytes at a time, little-endian.
 * Hashes `key[start, end)` without copying it.
 */
export function bloomHash(key: Uint8Array, start = 0, end = key.length): number {
  const m = 0xc6a4a793;
  let h = (BLOOM_HASH_SEED ^ Math.imul(end - start, m)) >>> 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const w = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    h = Math.imul((h + w) >>> 0, m) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  switch (end - i) {
    case 3:
      h = (h + (key[i + 2]! << 16)) >>> 0;
    // falls through
    case 2:
      h = (h + (key[i + 1]! << 8)) >>> 0;
    // falls through
    case 1:
      h = (h + key[i]!) >>> 0;
      h = Math.imul(h, m) >>> 0;
      h = (h ^ (h >>> 24)) >>> 0;
  }
  return h;
}

/** The number of probes for a bits-per-key budget: round(bits * ln 2), in [1, 30]. */
export function bloomProbes(bitsPerKey: number): number {
  const k = Math.round(bitsPerKey * Math.LN2);
  return k < 1 ? 1 : k > BLOOM_PROBES_MAX ? BLOOM_PROBES_MAX : k;
}

/** Builds a filter from the hashes `hashes[0, count)` (bloomHash of each distinct key). */
export function buildBloomFilterFromHashes(hashes: Uint32Array, count: number, bitsPerKey: number): Uint8Array {
  const k = bloomProbes(bitsPerKey);
  let bits = Math.ceil(count * bitsPerKey);
  if (bits < BLOOM_BITS_MIN) bits = BLOOM_BITS_MIN;
  const bytes = Math.ceil(bits / 8);
  bits = bytes * 8;
  const filter = new Uint8Array(bytes + 1);
  filter[bytes] = k;
  for (let i = 0; i < count; i++) {
    let h = hashes[i]!;
    const delta = ((h >>> 17) | (h << 15)) >>> 0;
    for (let j = 0; j < k; j++) {
      const bit = h % bits;
      filter[bit >>> 3]! |= 1 << (bit & 7);
      h = (h + delta) >>> 0;
    }
  }
  return filter;
}

/**
 * Builds a filter over `keys` (duplicates are harmless).
 *
 * @example
 * ```ts
 * const filter = buildBloomFilter([utf8('a'), utf8('b')], 10);
 * bloomMayContain(filter, utf8('a')); // true
 * bloomMayContain(filter, utf8('z')); // false, except for ~1% of keys
 * ```
 */
export function buildBloomFilter(keys: readonly Uint8Array[], bitsPerKey: number): Uint8Array {
  const hashes = new Uint32Array(keys.length);
  for (let i = 0; i < keys.length; i++) hashes[i] = bloomHash(keys[i]!);
  return buildBloomFilterFromHashes(hashes, keys.length, bitsPerKey);
}

/** False means `key` is certainly not in the set the filter was built from. */
export function bloomMayContain(filter: Uint8Array, key: Uint8Array): boolean {
  return bloomMayContainHash(filter, bloomHash(key));
}

/** As bloomMayContain, for a hash the caller already computed. */
export function bloomMayContainHash(filter: Uint8Array, hash: number): boolean {
  const bytes = filter.length - 1;
  if (bytes < 1) return false;
  const k = filter[bytes]!;
  if (k > BLOOM_PROBES_MAX) return true;
  const bits = bytes * 8;
  let h = hash;
  const delta = ((h >>> 17) | (h << 15)) >>> 0;
  for (let j = 0; j < k; j++) {
    const bit = h % bits;
    if ((filter[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    h = (h + delta) >>> 0;
  }
  return true;
}

/** What sst-dump prints about a filter. */
export interface BloomFilterInfo {
  bytes: number;
  probes: number;
  bits: number;
}

export function bloomFilterInfo(filter: Uint8Array): BloomFilterInfo {
  const bytes = Math.max(0, filter.length - 1);
  return { bytes: filter.length, probes: filter.length > 0 ? filter[bytes]! : 0, bits: bytes * 8 };
}
