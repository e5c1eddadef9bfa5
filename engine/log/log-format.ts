/**
 * The log format shared by the WAL and the MANIFEST, after LevelDB's doc/log_format.md.
 * Every constant here is on disk: changing one breaks every existing database.
 * The byte layout, a worked example and the checksum are in docs/formats/wal.md.
 *
 *   file     := block*
 *   block    := record* trailer?          (BLOCK_BYTES each; the last one may be short)
 *   record   := crc32c:u32le length:u16le type:u8 payload[length]
 *   trailer  := 0x00{0..6}                (fewer than HEADER_BYTES left: zero-filled)
 *
 * crc32c covers the type byte and the payload. A logical record larger than what is left of
 * a block is split into FIRST, MIDDLE*, LAST fragments; one that fits is FULL.
 */

export const BLOCK_BYTES = 32 * 1024;
export const HEADER_BYTES = 7;

export const enum RecordType {
  /** Zero-filled space: preallocated or padding; never written as a header on purpose. */
  Zero = 0,
  Full = 1,
  First = 2,
  Middle = 3,
  Last = 4,
}

export const RECORD_TYPE_MAX = RecordType.Last;
