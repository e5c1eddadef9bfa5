/**
 * The ring's hash (protocol/xxhash64.ts) gives XXHash64's digest: the reference's published
 * values, and the native reference implementation (xxhash-addon) on every length from empty to
 * past two 32-byte stripes, so each path (stripes, 8-byte lanes, a 4-byte word, single bytes)
 * and each way they combine is checked against it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import xxhash from 'xxhash-addon';
import { xxhash64 } from '../../protocol/xxhash64.ts';

function hex(bytes: Uint8Array): string {
  const { high, low } = xxhash64(bytes);
  return high.toString(16).padStart(8, '0') + low.toString(16).padStart(8, '0');
}

function reference(bytes: Uint8Array): string {
  return xxhash.XXHash64.hash(Buffer.from(bytes)).toString('hex');
}

describe('xxhash64', () => {
  it('gives the published digests of the empty input and of "abc"', () => {
    assert.equal(hex(new Uint8Array(0)), 'ef46db3751d8e999');
    assert.equal(hex(new TextEncoder().encode('abc')), '44bc2cf5ad770999');
  });

  it('matches the reference implementation on every length from 0 to 200 bytes', () => {
    let state = 12345;
    const nextByte = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state >>> 24;
    };
    for (let length = 0; length <= 200; length++) {
      for (const fill of ['random', 0x00, 0xff] as const) {
        const bytes = new Uint8Array(length);
        for (let i = 0; i < length; i++) bytes[i] = fill === 'random' ? nextByte() : fill;
        assert.equal(hex(bytes), reference(bytes), `length ${length}, fill ${fill}`);
      }
    }
  });

  it('hashes a view into a larger buffer by its own bytes only', () => {
    const whole = new TextEncoder().encode('xxuser:42yy');
    assert.equal(hex(whole.subarray(2, 9)), reference(new TextEncoder().encode('user:42')));
  });
});
