/**
 * CRC-32C (Castagnoli), the checksum LevelDB and RocksDB use, from the `crc-32` package.
 * The package returns a signed 32-bit int; `>>> 0` makes it the unsigned value stored on disk.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const crc32cModule = require('crc-32/crc32c') as { buf(data: Uint8Array, seed?: number): number };

/** crc32c of `data`, continuing from `seed` (a previous unsigned result) when given. */
export function crc32c(data: Uint8Array, seed?: number): number {
  return crc32cModule.buf(data, seed === undefined ? undefined : seed | 0) >>> 0;
}
