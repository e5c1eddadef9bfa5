/**
 * Keys and values in the manner of LevelDB's db_bench: a key is the decimal index padded to
 * 16 digits ("0000000000001234"), a missing key adds a dot (17 bytes, sorting between two
 * present keys), a value is 100 bytes taken from a pool of random bytes (incompressible, so
 * compression settings cannot matter). A seeded generator makes every run, and every engine
 * within a run, see the same sequence of keys.
 */
import { seededRandom } from '../../engine/fs/memory-file-system.ts';

export const KEY_BYTES = 16;
export const VALUE_BYTES = 100;
/** Bytes a key and its value carry: what MB/s counts, as db_bench does. */
export const ENTRY_BYTES = KEY_BYTES + VALUE_BYTES;
const VALUE_POOL_BYTES = 1024 * 1024;
const DIGIT_0 = 0x30;
const DOT = 0x2e;

/** The key of index `i`: `i` in decimal, zero-padded to 16 digits. A fresh array. */
export function keyOf(i: number): Uint8Array {
  const out = new Uint8Array(KEY_BYTES);
  let n = i;
  for (let at = KEY_BYTES - 1; at >= 0; at--) {
    out[at] = DIGIT_0 + (n % 10);
    n = Math.floor(n / 10);
  }
  return out;
}

/** A key that is never written: the key of `i` followed by a dot. */
export function missingKeyOf(i: number): Uint8Array {
  const out = new Uint8Array(KEY_BYTES + 1);
  out.set(keyOf(i));
  out[KEY_BYTES] = DOT;
  return out;
}

/** A small, fast, seeded generator (mulberry32): the same seed gives the same sequence. */
export class Random {
  /** A float in [0, 1). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** An integer in [0, n). */
  uniform(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** 0..n-1 in a random order (Fisher-Yates). */
export function permutation(n: number, random: Random): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = random.uniform(i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/** Values as views into one pool of random bytes, each starting where the last ended. */
export class ValuePool {
  private readonly pool = new Uint8Array(VALUE_POOL_BYTES);
  private at = 0;

  constructor(random: Random) {
    for (let i = 0; i < this.pool.length; i++) this.pool[i] = random.uniform(256);
  }

  next(): Uint8Array {
    if (this.at + VALUE_BYTES > this.pool.length) this.at = 0;
    const value = this.pool.subarray(this.at, this.at + VALUE_BYTES);
    this.at += VALUE_BYTES;
    return value;
  }
}
