/**
 * The SSTable file format: constants, block handles, the block trailer and the footer.
 * Every constant here is on disk: changing one breaks every existing table.
 * The grammar, a byte diagram and a worked example are in docs/formats/sstable.md.
 *
 *   table    := data_block* range_del_block filter_block properties_block index_block footer
 *   *_block  := contents crc32c(contents):u32le            (BLOCK_TRAILER_BYTES)
 *   handle   := offset:varint size:varint                  (size excludes the trailer)
 *   footer   := range_del:handle64 filter:handle64 properties:handle64 index:handle64
 *               format_version:u32le crc32c(footer[0, 52)):u32le magic[8]      (FOOTER_BYTES)
 *   handle64 := offset:u64le size:u32le                    (fixed width: the footer is found
 *                                                           by its position, at the end)
 *
 * Format version 2 added the range deletion block (range tombstones, in the block format of
 * block.ts) and its handle. Version 1 tables have neither: footer_v1 := filter properties index
 * handles, version, crc32c(footer[0, 40)), magic (52 bytes). They are still read; the version
 * and magic sit at the same distance from the end of the file in both.
 *
 * Verification contract: every block's checksum is checked on every read from the file (not
 * on a block-cache hit, which holds an already-verified copy), and a mismatch, a handle that
 * points outside the file, a bad magic, an unknown version or a footer checksum mismatch is a
 * CorruptionError naming the file (and the block offset for a block).
 */
import { CorruptionError } from '../errors.ts';
import { crc32c } from '../util/crc32c.ts';
import { readUint64, VARINT_BYTES_MAX, writeUint64, writeVarint } from '../util/varint.ts';

/** "\x89dkvsst\n": the high byte catches 7-bit mangling, the newline catches text-mode I/O. */
export const TABLE_MAGIC = Uint8Array.of(0x89, 0x64, 0x6b, 0x76, 0x73, 0x73, 0x74, 0x0a);
/** The version this code writes: 2, since range deletions. */
export const TABLE_FORMAT_VERSION = 2;
/** The oldest version this code reads. */
export const TABLE_FORMAT_VERSION_MIN = 1;
/** The footer this code writes (version 2). */
export const FOOTER_BYTES = 64;
/** A version 1 footer: three handles, no range deletion block. */
export const FOOTER_V1_BYTES = 52;
/** From the end of the file: the version (u32) and checksum (u32) before the magic (8). */
const FOOTER_TAIL_BYTES = 16;
export const BLOCK_TRAILER_BYTES = 4;
/** Data blocks restart prefix compression every this many entries (LevelDB's default). */
export const DATA_RESTART_INTERVAL = 16;
/** Index entries are all restarts, so a binary search lands on the exact entry. */
export const INDEX_RESTART_INTERVAL = 1;
/** A block handle as varints is at most this long (two 8-byte varints). */
export const BLOCK_HANDLE_BYTES_MAX = 16;
/** Blocks named in the footer are at most this large (their size is a u32 there). */
export const META_BLOCK_BYTES_MAX = 0xffff_ffff;

/** Where a block lives: `size` bytes of contents at `offset`, then the 4-byte trailer. */
export interface BlockHandle {
  offset: number;
  size: number;
}

export interface Footer {
  /** Version 1 tables have none: size 0 at the filter's offset, and no trailer. */
  rangeDel: BlockHandle;
  filter: BlockHandle;
  properties: BlockHandle;
  index: BlockHandle;
  formatVersion: number;
}

/** Appends a handle as two varints at `at`; returns the offset after it. */
export function encodeBlockHandle(out: Uint8Array, at: number, handle: BlockHandle): number {
  return writeVarint(out, writeVarint(out, at, handle.offset), handle.size);
}

/**
 * Decodes a handle from `buf[at, end)` into `out`; returns the offset after it, or -1 if the
 * varints are malformed or run past `end`. No allocation: this runs on every index lookup.
 */
export function decodeBlockHandle(buf: Uint8Array, at: number, end: number, out: BlockHandle): number {
  at = decodeVarintBounded(buf, at, end);
  if (at < 0) return -1;
  out.offset = decodedValue;
  at = decodeVarintBounded(buf, at, end);
  if (at < 0) return -1;
  out.size = decodedValue;
  return at;
}

let decodedValue = 0;

/** A varint of at most VARINT_BYTES_MAX bytes in `buf[at, end)`, into `decodedValue`. */
function decodeVarintBounded(buf: Uint8Array, at: number, end: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < VARINT_BYTES_MAX && at < end; i++) {
    const b = buf[at++]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      decodedValue = value;
      return at;
    }
    scale *= 128;
  }
  return -1;
}

/** The contents followed by their crc32c trailer, ready to append. */
export function sealBlock(contents: Uint8Array): Uint8Array {
  const out = new Uint8Array(contents.length + BLOCK_TRAILER_BYTES);
  out.set(contents, 0);
  new DataView(out.buffer).setUint32(contents.length, crc32c(contents), true);
  return out;
}

/**
 * Checks a block read from disk (`raw` = contents ++ trailer) and returns its contents.
 * `what` names the block in the error ("data block", "index block", ...).
 */
export function unsealBlock(raw: Uint8Array, handle: BlockHandle, what: string, file: string): Uint8Array {
  if (raw.length !== handle.size + BLOCK_TRAILER_BYTES) {
    throw new CorruptionError(`sst: ${what} at offset ${handle.offset} is truncated: read ${raw.length} of ${handle.size + BLOCK_TRAILER_BYTES} bytes`, { file });
  }
  // A plain Uint8Array view even when the file system returns a Buffer: keeps the block
  // code's element loads monomorphic, and callers get one kind of array back.
  const contents = new Uint8Array(raw.buffer, raw.byteOffset, handle.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  checkChecksum(contents, view.getUint32(handle.size, true), handle, what, file);
  return contents;
}

/** CorruptionError unless crc32c(contents) is `stored`. */
function checkChecksum(contents: Uint8Array, stored: number, handle: BlockHandle, what: string, file: string): void {
  const actual = crc32c(contents);
  if (stored !== actual) {
    throw new CorruptionError(
      `sst: checksum mismatch in ${what} at offset ${handle.offset} (stored 0x${hex32(stored)}, computed 0x${hex32(actual)})`,
      { file },
    );
  }
}

/**
 * As unsealBlock, for a block read into the start of a reused buffer (`read` bytes of it):
 * returns a view of the contents, reading the stored checksum in place. One view where
 * unsealBlock makes three (what was read, the contents, a DataView), on the point-lookup path.
 */
export function unsealBlockInPlace(buffer: Uint8Array, read: number, handle: BlockHandle, what: string, file: string): Uint8Array {
  const size = handle.size;
  if (read !== size + BLOCK_TRAILER_BYTES) {
    throw new CorruptionError(`sst: ${what} at offset ${handle.offset} is truncated: read ${read} of ${size + BLOCK_TRAILER_BYTES} bytes`, { file });
  }
  const stored = (buffer[size]! | (buffer[size + 1]! << 8) | (buffer[size + 2]! << 16) | (buffer[size + 3]! << 24)) >>> 0;
  const contents = buffer.subarray(0, size);
  checkChecksum(contents, stored, handle, what, file);
  return contents;
}

/** Encodes a version 2 footer. */
export function encodeFooter(footer: Footer): Uint8Array {
  const out = new Uint8Array(FOOTER_BYTES);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const handle of [footer.rangeDel, footer.filter, footer.properties, footer.index]) {
    writeUint64(view, at, handle.offset);
    view.setUint32(at + 8, handle.size, true);
    at += 12;
  }
  view.setUint32(at, footer.formatVersion, true);
  view.setUint32(at + 4, crc32c(out.subarray(0, at + 4)), true);
  out.set(TABLE_MAGIC, at + 8);
  return out;
}

/**
 * Decodes and checks the footer of a `fileBytes`-long table from its last bytes (`tail`, up to
 * FOOTER_BYTES of them): magic, version, checksum, and that every handle lies inside the
 * region before the footer.
 */
export function decodeFooter(tail: Uint8Array, fileBytes: number, file: string): Footer {
  if (tail.length < FOOTER_V1_BYTES) {
    throw new CorruptionError(`sst: file is too short to be a table (${fileBytes} bytes, the footer alone is ${FOOTER_V1_BYTES} or more)`, { file });
  }
  const magicAt = tail.length - TABLE_MAGIC.length;
  for (let i = 0; i < TABLE_MAGIC.length; i++) {
    if (tail[magicAt + i] !== TABLE_MAGIC[i]) throw new CorruptionError('sst: bad magic number: not a table, or truncated', { file });
  }
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const formatVersion = view.getUint32(tail.length - FOOTER_TAIL_BYTES, true);
  if (formatVersion < TABLE_FORMAT_VERSION_MIN || formatVersion > TABLE_FORMAT_VERSION) {
    throw new CorruptionError(`sst: unsupported format version ${formatVersion} (this code reads ${TABLE_FORMAT_VERSION_MIN} to ${TABLE_FORMAT_VERSION})`, { file });
  }
  const footerBytes = formatVersion === 1 ? FOOTER_V1_BYTES : FOOTER_BYTES;
  if (tail.length < footerBytes) throw new CorruptionError(`sst: file is too short to be a table (${fileBytes} bytes, the footer alone is ${footerBytes})`, { file });
  const footer = tail.subarray(tail.length - footerBytes);
  const checked = footerBytes - FOOTER_TAIL_BYTES + 4;
  const footerView = new DataView(footer.buffer, footer.byteOffset, footer.byteLength);
  if (footerView.getUint32(checked, true) !== crc32c(footer.subarray(0, checked))) {
    throw new CorruptionError('sst: footer checksum mismatch', { file });
  }
  const handles: BlockHandle[] = [];
  for (let at = 0; at < footerBytes - FOOTER_TAIL_BYTES; at += 12) {
    const handle = { offset: readUint64(footerView, at), size: footerView.getUint32(at + 8, true) };
    checkHandle(handle, fileBytes - footerBytes, 'footer', file);
    handles.push(handle);
  }
  if (formatVersion === 1) handles.unshift({ offset: handles[0]!.offset, size: 0 });
  return { rangeDel: handles[0]!, filter: handles[1]!, properties: handles[2]!, index: handles[3]!, formatVersion };
}

/** Bytes of the footer of a table of this version. */
export function footerBytes(formatVersion: number): number {
  return formatVersion === 1 ? FOOTER_V1_BYTES : FOOTER_BYTES;
}

/** A handle must name a block (and its trailer) that ends by `limit`. */
export function checkHandle(handle: BlockHandle, limit: number, where: string, file: string): void {
  if (!(handle.offset >= 0 && handle.offset + handle.size + BLOCK_TRAILER_BYTES <= limit)) {
    throw new CorruptionError(
      `sst: ${where} names a block at offset ${handle.offset} of ${handle.size} bytes, past the end of the blocks (${limit})`,
      { file },
    );
  }
}

export function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
