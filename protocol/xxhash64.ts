/**
 * XXHash64 (seed 0) in plain JavaScript, on 32-bit halves: the hash the ring places keys by
 * (ring.ts). Same digest as the reference implementation (xxhash-addon, which the tests check it
 * against on every length from 0 to past two stripes).
 *
 * Why not the native addon: every key a node routes is hashed at least twice (the routing
 * decision, then the write gate's ownership check), a batch's keys three times, and a call into
 * the addon costs a Buffer view, an N-API crossing and a digest Buffer: measured 2.5-3.5 us a
 * key on the bench machine, against about 0.1-0.2 us here for a 20-byte key (docs/decisions.md).
 *
 * Pure, synchronous, no allocation but the result. 64-bit words are kept as (high, low) uint32
 * pairs in module-level registers; a 64x64 multiply is built from 16-bit limbs so that every
 * partial product stays exact in a double.
 */

// The five primes of XXH64, as 32-bit halves.
const P1_HI = 0x9e3779b1, P1_LO = 0x85ebca87;
const P2_HI = 0xc2b2ae3d, P2_LO = 0x27d4eb4f;
const P3_HI = 0x165667b1, P3_LO = 0x9e3779f9;
const P4_HI = 0x85ebca77, P4_LO = 0xc2b2ae63;
const P5_HI = 0x27d4eb2f, P5_LO = 0x165667c5;

// The result of each 64-bit step: one register pair, read right after the call.
let rHi = 0;
let rLo = 0;

/** (aHi, aLo) * (bHi, bLo) mod 2^64 into (rHi, rLo). */
function multiply(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const a0 = aLo & 0xffff, a1 = aLo >>> 16, b0 = bLo & 0xffff, b1 = bLo >>> 16;
  const cross1 = a1 * b0, cross2 = a0 * b1;
  const carry = ((a0 * b0) >>> 16) + (cross1 & 0xffff) + (cross2 & 0xffff);
  const lowProductHigh = a1 * b1 + (cross1 >>> 16) + (cross2 >>> 16) + (carry >>> 16);
  rLo = Math.imul(aLo, bLo) >>> 0;
  rHi = (lowProductHigh + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
}

/** (aHi, aLo) + (bHi, bLo) mod 2^64 into (rHi, rLo). */
function add(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const lo = aLo + bLo;
  rLo = lo >>> 0;
  rHi = (aHi + bHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Rotates (hi, lo) left by `n` bits, 0 < n < 32, into (rHi, rLo). */
function rotateLeft(hi: number, lo: number, n: number): void {
  rHi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
  rLo = ((lo << n) | (hi >>> (32 - n))) >>> 0;
}

/** XXH64's round: acc + lane * P2, rotated left 31, times P1; into (rHi, rLo). */
function round(accHi: number, accLo: number, laneHi: number, laneLo: number): void {
  multiply(laneHi, laneLo, P2_HI, P2_LO);
  add(accHi, accLo, rHi, rLo);
  rotateLeft(rHi, rLo, 31);
  multiply(rHi, rLo, P1_HI, P1_LO);
}

/** XXH64's merge of a lane accumulator into the hash: (h ^ round(0, v)) * P1 + P4; into (rHi, rLo). */
function merge(hHi: number, hLo: number, vHi: number, vLo: number): void {
  round(0, 0, vHi, vLo);
  multiply((hHi ^ rHi) >>> 0, (hLo ^ rLo) >>> 0, P1_HI, P1_LO);
  add(rHi, rLo, P4_HI, P4_LO);
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** XXHash64 of `bytes` with seed 0, as its high and low 32 bits. */
export function xxhash64(bytes: Uint8Array): { high: number; low: number } {
  const length = bytes.length;
  let p = 0;
  let hHi: number, hLo: number;
  if (length >= 32) {
    // v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1 (mod 2^64, 0x61c8864e7a143579)
    add(P1_HI, P1_LO, P2_HI, P2_LO);
    let v1Hi = rHi, v1Lo = rLo;
    let v2Hi = P2_HI, v2Lo = P2_LO;
    let v3Hi = 0, v3Lo = 0;
    let v4Hi = 0x61c8864e, v4Lo = 0x7a143579;
    for (const limit = length - 32; p <= limit; p += 32) {
      round(v1Hi, v1Lo, readUint32(bytes, p + 4), readUint32(bytes, p));
      v1Hi = rHi; v1Lo = rLo;
      round(v2Hi, v2Lo, readUint32(bytes, p + 12), readUint32(bytes, p + 8));
      v2Hi = rHi; v2Lo = rLo;
      round(v3Hi, v3Lo, readUint32(bytes, p + 20), readUint32(bytes, p + 16));
      v3Hi = rHi; v3Lo = rLo;
      round(v4Hi, v4Lo, readUint32(bytes, p + 28), readUint32(bytes, p + 24));
      v4Hi = rHi; v4Lo = rLo;
    }
    rotateLeft(v1Hi, v1Lo, 1);
    hHi = rHi; hLo = rLo;
    rotateLeft(v2Hi, v2Lo, 7);
    add(hHi, hLo, rHi, rLo);
    hHi = rHi; hLo = rLo;
    rotateLeft(v3Hi, v3Lo, 12);
    add(hHi, hLo, rHi, rLo);
    hHi = rHi; hLo = rLo;
    rotateLeft(v4Hi, v4Lo, 18);
    add(hHi, hLo, rHi, rLo);
    hHi = rHi; hLo = rLo;
    merge(hHi, hLo, v1Hi, v1Lo);
    merge(rHi, rLo, v2Hi, v2Lo);
    merge(rHi, rLo, v3Hi, v3Lo);
    merge(rHi, rLo, v4Hi, v4Lo);
    hHi = rHi; hLo = rLo;
  } else {
    hHi = P5_HI;
    hLo = P5_LO;
  }
  // h += length (below 2^32 for any key or value this code hashes).
  add(hHi, hLo, 0, length);
  hHi = rHi; hLo = rLo;
  for (; p + 8 <= length; p += 8) {
    round(0, 0, readUint32(bytes, p + 4), readUint32(bytes, p));
    rotateLeft((hHi ^ rHi) >>> 0, (hLo ^ rLo) >>> 0, 27);
    multiply(rHi, rLo, P1_HI, P1_LO);
    add(rHi, rLo, P4_HI, P4_LO);
    hHi = rHi; hLo = rLo;
  }
  if (p + 4 <= length) {
    multiply(0, readUint32(bytes, p), P1_HI, P1_LO);
    rotateLeft((hHi ^ rHi) >>> 0, (hLo ^ rLo) >>> 0, 23);
    multiply(rHi, rLo, P2_HI, P2_LO);
    add(rHi, rLo, P3_HI, P3_LO);
    hHi = rHi; hLo = rLo;
    p += 4;
  }
  for (; p < length; p++) {
    multiply(0, bytes[p]!, P5_HI, P5_LO);
    rotateLeft((hHi ^ rHi) >>> 0, (hLo ^ rLo) >>> 0, 11);
    multiply(rHi, rLo, P1_HI, P1_LO);
    hHi = rHi; hLo = rLo;
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  multiply(hHi, (hLo ^ (hHi >>> 1)) >>> 0, P2_HI, P2_LO);
  multiply((rHi ^ (rHi >>> 29)) >>> 0, (rLo ^ ((rLo >>> 29) | (rHi << 3))) >>> 0, P3_HI, P3_LO);
  return { high: rHi, low: (rLo ^ rHi) >>> 0 };
}
