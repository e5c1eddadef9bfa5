/**
 * CRC-32C for the engine's formats. The one implementation lives in protocol/crc32c.ts, the
 * leaf both the engine and the wire formats use (the replication stream and node state carry
 * the same checksum as the WAL); docs/architecture.md draws the layers.
 */
export { crc32c } from '../../protocol/crc32c.ts';
