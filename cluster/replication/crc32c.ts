/**
 * CRC-32C (Castagnoli) from the `crc-32` package, for replication frames and the persisted
 * node state: the same checksum the engine puts on WAL records. The package returns a signed
 * 32-bit int; `>>> 0` makes it the unsigned value that goes on the wire.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const crc32cModule = require('crc-32/crc32c') as { buf(data: Uint8Array, seed?: number): number };

export function crc32c(data: Uint8Array): number {
  return crc32cModule.buf(data) >>> 0;
}
