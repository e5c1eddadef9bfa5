/**
 * The properties block: facts about a table that compaction, sst-dump and recovery read
 * without scanning it. Encoded as one MessagePack map (string keys, so fields can be added
 * without a format version bump; readers ignore keys they do not know). Its checksum is the
 * block trailer like any block's. The field names are on disk.
 *
 *   properties := msgpack map {
 *     "entries": uint, "tombstones": uint, "smallest": bin, "largest": bin,
 *     "seqMin": uint, "seqMax": uint, "rawKeyBytes": uint, "rawValueBytes": uint,
 *     "dataBlocks": uint, "filterBytes": uint, "indexBytes": uint,
 *     "rangeTombstones": uint }                    (since format version 2; absent means 0)
 *
 * `smallest` and `largest` are encoded internal keys (user key ++ trailer): the table's
 * bounds, over its entries and its range tombstones (see TableBuilder.finish).
 */
import { Packr } from 'msgpackr';
import { CorruptionError } from '../errors.ts';
import { encodeInternalKey, type InternalKey, kindOf, seqOf, TRAILER_BYTES, userKeyOf } from '../internal-key.ts';

export interface TableProperties {
  entries: number;
  tombstones: number;
  smallest: InternalKey;
  largest: InternalKey;
  seqMin: number;
  seqMax: number;
  /** Sum of the encoded internal keys' and of the values' lengths, before prefix compression. */
  rawKeyBytes: number;
  rawValueBytes: number;
  dataBlocks: number;
  filterBytes: number;
  indexBytes: number;
  /** Range tombstones in the range deletion block. */
  rangeTombstones: number;
}

const COUNT_FIELDS = [
  'entries',
  'tombstones',
  'seqMin',
  'seqMax',
  'rawKeyBytes',
  'rawValueBytes',
  'dataBlocks',
  'filterBytes',
  'indexBytes',
  'rangeTombstones',
] as const;

/** Fields a version 1 table does not have, and the value they take there. */
const ADDED_FIELDS: Partial<Record<(typeof COUNT_FIELDS)[number], number>> = { rangeTombstones: 0 };

// useRecords off: plain MessagePack maps, readable by any MessagePack decoder.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeProperties(p: TableProperties): Uint8Array {
  const record: Record<string, unknown> = {};
  for (const name of COUNT_FIELDS) record[name] = p[name];
  record.smallest = encodeInternalKey(p.smallest.userKey, p.smallest.seq, p.smallest.kind);
  record.largest = encodeInternalKey(p.largest.userKey, p.largest.seq, p.largest.kind);
  return packr.pack(record);
}

/** Decodes and checks the shape of a properties block (its checksum was already verified). */
export function decodeProperties(bytes: Uint8Array, file: string): TableProperties {
  let record: unknown;
  try {
    record = packr.unpack(bytes);
  } catch (cause) {
    throw new CorruptionError('sst: properties block is not valid MessagePack', { cause, file });
  }
  if (record === null || typeof record !== 'object') throw new CorruptionError('sst: properties block is not a map', { file });
  const r = record as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of COUNT_FIELDS) {
    const v = r[name] ?? ADDED_FIELDS[name];
    if (!Number.isSafeInteger(v) || (v as number) < 0) {
      throw new CorruptionError(`sst: properties field ${JSON.stringify(name)} is ${JSON.stringify(v)}, not a count`, { file });
    }
    out[name] = v;
  }
  out.smallest = decodeKeyField(r.smallest, 'smallest', file);
  out.largest = decodeKeyField(r.largest, 'largest', file);
  return out as unknown as TableProperties;
}

function decodeKeyField(v: unknown, name: string, file: string): InternalKey {
  if (!(v instanceof Uint8Array) || v.length < TRAILER_BYTES) {
    throw new CorruptionError(`sst: properties field ${JSON.stringify(name)} is not an internal key`, { file });
  }
  // A copy: the decoder may hand out a view of its input buffer.
  const key = new Uint8Array(v);
  return { userKey: userKeyOf(key).slice(), seq: seqOf(key), kind: kindOf(key) };
}
