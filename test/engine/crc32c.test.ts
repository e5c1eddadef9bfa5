import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { crc32c, crc32cImplementation, crc32cJavaScript, crc32cNativeOnly, NATIVE_MIN_BYTES } from '../../protocol/crc32c.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';

test('crc32c matches the published check value and known vectors', () => {
  // The CRC-32C check value: crc of ASCII "123456789" (RFC 3720, appendix B.4).
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  // 32 zero bytes, RFC 3720 B.4.
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  // The same vectors past the native threshold: a long input and its seeded continuation.
  const long = new Uint8Array(NATIVE_MIN_BYTES * 3).fill(0xff);
  assert.equal(crc32c(long.subarray(NATIVE_MIN_BYTES)), crc32c(long.subarray(NATIVE_MIN_BYTES), crc32c(new Uint8Array(0))));
});

test('the native and JavaScript implementations agree on every length and seed', () => {
  const random = seededRandom(77);
  for (let i = 0; i < 400; i++) {
    const length = i < 300 ? i : Math.floor(random() * 10_000);
    const data = new Uint8Array(length);
    for (let j = 0; j < length; j++) data[j] = Math.floor(random() * 256);
    const seed = i % 3 === 0 ? undefined : Math.floor(random() * 2 ** 32);
    const js = crc32cJavaScript(data, seed);
    assert.equal(crc32c(data, seed), js, `length ${length}, seed ${seed}`);
    const native = crc32cNativeOnly(data, seed);
    if (native !== undefined) assert.equal(native, js, `native, length ${length}, seed ${seed}`);
    // Continuing from a prefix's crc equals the crc of the whole (the JavaScript prefix, the
    // native rest when long enough: the two must hand over state exactly).
    const cut = Math.floor(length / 3);
    if (seed === undefined) assert.equal(crc32c(data.subarray(cut), crc32cJavaScript(data.subarray(0, cut))), js, `continued, length ${length}`);
  }
});

test('the native implementation is used whenever its optional package is installed', () => {
  let installed = true;
  try {
    createRequire(import.meta.url).resolve('@node-rs/crc32');
  } catch {
    installed = false;
  }
  const expected = installed && process.env.DISTRIBKV_PURE_JS !== '1' ? 'native' : 'javascript';
  assert.equal(crc32cImplementation, expected);
});
