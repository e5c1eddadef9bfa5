/**
 * Anti-entropy's comparisons: digests of key ranges, and the keys two sides disagree on.
 *
 * The leader cuts its data (at a pinned snapshot) into ranges of `rangeKeys` keys each and
 * digests every range; the follower digests the same ranges of its data at the same sequence
 * number. A range digest is XXH64 (seed 0) over, for each entry in key order,
 * `key_len:u32le key value_len:u32le value`, plus the entry count. Ranges whose digests differ
 * are compared key by key through `(key, XXH64(value))` lists, which yields the keys to repair.
 *
 * Pure apart from iterating the entries it is handed: no clock, no network.
 */
import xxhash from 'xxhash-addon';

/** `gte` undefined: from the first key; `lt` undefined: to the last. */
export interface KeyRange {
  gte: Uint8Array | undefined;
  lt: Uint8Array | undefined;
}

export interface RangeSummary {
  count: number;
  /** 16 hex digits. */
  digest: string;
}

type Entry = readonly [Uint8Array, Uint8Array];

class Digester {
  private hash = new xxhash.XXHash64(Buffer.alloc(8));
  private readonly lengths = Buffer.alloc(4);
  count = 0;

  add(key: Uint8Array, value: Uint8Array): void {
    this.part(key);
    this.part(value);
    this.count++;
  }

  private part(bytes: Uint8Array): void {
    this.lengths.writeUInt32LE(bytes.length, 0);
    this.hash.update(this.lengths);
    this.hash.update(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  finish(): RangeSummary {
    return { count: this.count, digest: this.hash.digest().toString('hex') };
  }
}

/** Leader side: cuts `entries` into ranges of `rangeKeys` keys and digests each. Never returns no range. */
export async function cutAndDigest(entries: AsyncIterable<Entry>, rangeKeys: number): Promise<{ ranges: KeyRange[]; summaries: RangeSummary[] }> {
  const starts: Uint8Array[] = [];
  const summaries: RangeSummary[] = [];
  let digester = new Digester();
  for await (const [key, value] of entries) {
    if (digester.count === rangeKeys) {
      summaries.push(digester.finish());
      digester = new Digester();
      starts.push(key.slice());
    }
    digester.add(key, value);
  }
  summaries.push(digester.finish());
  return { ranges: rangesFromStarts(starts), summaries };
}

/** The ranges that `starts` (every range's first key but the first range's) cut the key space into. */
export function rangesFromStarts(starts: readonly Uint8Array[]): KeyRange[] {
  return Array.from({ length: starts.length + 1 }, (_, i) => ({ gte: i === 0 ? undefined : starts[i - 1], lt: starts[i] }));
}

/** Follower side: digests `entries` by the ranges `starts` cut. */
export async function digestByStarts(entries: AsyncIterable<Entry>, starts: readonly Uint8Array[]): Promise<RangeSummary[]> {
  const summaries: RangeSummary[] = [];
  let digester = new Digester();
  let next = 0;
  for await (const [key, value] of entries) {
    while (next < starts.length && compare(key, starts[next]!) >= 0) {
      summaries.push(digester.finish());
      digester = new Digester();
      next++;
    }
    digester.add(key, value);
  }
  summaries.push(digester.finish());
  while (summaries.length < starts.length + 1) summaries.push(new Digester().finish());
  return summaries;
}

/** Indices of the ranges whose summaries differ. */
export function differingRanges(leader: readonly RangeSummary[], follower: readonly RangeSummary[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < leader.length; i++) {
    const f = follower[i];
    if (!f || f.count !== leader[i]!.count || f.digest !== leader[i]!.digest) out.push(i);
  }
  return out;
}

/** `(key, XXH64(value) as hex)` for each entry, in key order: what a range is compared by. */
export type KeyHash = readonly [Uint8Array, string];

export function hashValue(value: Uint8Array): string {
  return xxhash.XXHash64.hash(Buffer.from(value.buffer, value.byteOffset, value.byteLength)).toString('hex');
}

/**
 * Keys on which two sorted `(key, hash)` lists disagree: missing on one side or holding
 * another value. When the follower's list was cut short, only keys below `followerEnd`
 * are compared, since past it the follower's side is unknown.
 */
export function differingKeys(leader: readonly KeyHash[], follower: readonly KeyHash[], followerEnd?: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  let j = 0;
  const inScope = (key: Uint8Array) => followerEnd === undefined || compare(key, followerEnd) < 0;
  while (i < leader.length || j < follower.length) {
    const a = leader[i];
    const b = follower[j];
    const order = !a ? 1 : !b ? -1 : compare(a[0], b[0]);
    if (order === 0) {
      if (a![1] !== b![1]) out.push(a![0]);
      i++;
      j++;
    } else if (order < 0) {
      if (inScope(a![0])) out.push(a![0]);
      i++;
    } else {
      out.push(b![0]);
      j++;
    }
  }
  return out;
}

export function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
