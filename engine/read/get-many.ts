/**
 * A batch of point lookups at one sequence number (Db.getMany), using the read thread when it
 * pays: every key is looked up in the memtables here; of the keys that need the tables, those
 * above a pivot go to the read thread while this thread looks up the rest, in parallel. The
 * pivot (a sampled median) splits the batch by key range, so each thread reads its own part of
 * every level below L0, and its own half of the block cache serves it.
 *
 * Without the thread (none, too few keys, or range tombstones anywhere, which only the tree's
 * own path weighs) every lookup is made here. The version is pinned until the thread answers.
 */
import type { MemtableEntry } from '../memtable/memtable.ts';
import { READ_THREAD_KEYS_MIN } from '../options.ts';
import type { TableCache } from '../sst/table-cache.ts';
import { ValueKind } from '../internal-key.ts';
import { compareBytes } from '../util/bytes.ts';
import type { Version } from '../version/version.ts';
import { packedRange, type PackedBytes } from './read-messages.ts';
import { ReadThreadStartError, type ReadThread } from './read-thread.ts';
import { lookupInTables } from './table-lookup.ts';

/** What getMany reads through (the LSM tree). */
export interface GetManySource {
  /** The full lookup: memtables, tables and range tombstones. */
  get(userKey: Uint8Array, seq: number): MemtableEntry | undefined;
  /** The newest entry in the memtables only. */
  memtableGet(userKey: Uint8Array, seq: number): MemtableEntry | undefined;
  /** Whether any memtable or table holds range tombstones. */
  mayHoldRangeTombstones(): boolean;
  pinVersion(): Version;
  unpinVersion(version: Version): void;
  readonly tables: TableCache;
  /** The read thread, if one is in use. */
  readonly readThread: ReadThread | undefined;
  /** The read thread could not start: stop using it. */
  readThreadFailed(err: ReadThreadStartError): void;
}

/**
 * Keys sampled to choose the pivot: with 63, the pivot's rank is within about 6% of the
 * middle, so neither thread waits long for the other; sorting them costs about 20 us a batch.
 */
const PIVOT_SAMPLES = 63;

/** The values of `keys` at `seq`, each made by `copy` (undefined where absent or deleted). */
export async function getMany(source: GetManySource, keys: readonly Uint8Array[], seq: number, copy: (value: Uint8Array) => Uint8Array): Promise<Array<Uint8Array | undefined>> {
  const out: Array<Uint8Array | undefined> = new Array(keys.length);
  const thread = source.readThread;
  if (thread === undefined || keys.length < READ_THREAD_KEYS_MIN || source.mayHoldRangeTombstones()) {
    for (let i = 0; i < keys.length; i++) out[i] = valueOf(source.get(keys[i]!, seq), copy);
    return out;
  }
  const toTables: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const entry = source.memtableGet(keys[i]!, seq);
    if (entry) out[i] = valueOf(entry, copy);
    else toTables.push(i);
  }
  const version = source.pinVersion();
  let answer: Promise<PackedBytes> | undefined;
  try {
    if (toTables.length < READ_THREAD_KEYS_MIN) {
      lookUpHere(source.tables, version, keys, toTables, seq, copy, out);
      return out;
    }
    const pivot = samplePivot(keys, toTables);
    const here: number[] = [];
    const there: number[] = [];
    for (const i of toTables) (compareBytes(keys[i]!, pivot) > 0 ? there : here).push(i);
    answer = there.length > 0 ? thread.lookup(version, there.map((i) => keys[i]!), seq) : undefined;
    lookUpHere(source.tables, version, keys, here, seq, copy, out);
    if (answer === undefined) return out;
    try {
      const values = await answer;
      for (let j = 0; j < there.length; j++) {
        const range = packedRange(values, j);
        out[there[j]!] = range === undefined ? undefined : copy(values.bytes.subarray(range[0], range[1]));
      }
    } catch (err) {
      if (!(err instanceof ReadThreadStartError)) throw err;
      source.readThreadFailed(err);
      lookUpHere(source.tables, version, keys, there, seq, copy, out);
    }
    return out;
  } finally {
    // The thread may still be reading this version's tables (a lookup here threw): the
    // version stays pinned, so none of them is deleted, until it has answered.
    if (answer !== undefined) await answer.catch(() => {});
    source.unpinVersion(version);
  }
}

function valueOf(entry: MemtableEntry | undefined, copy: (value: Uint8Array) => Uint8Array): Uint8Array | undefined {
  return entry?.kind === ValueKind.Put ? copy(entry.value) : undefined;
}

function lookUpHere(tables: TableCache, version: Version, keys: readonly Uint8Array[], indexes: readonly number[], seq: number, copy: (value: Uint8Array) => Uint8Array, out: Array<Uint8Array | undefined>): void {
  for (const i of indexes) out[i] = valueOf(lookupInTables(version, tables, keys[i]!, seq), copy);
}

/** The median of up to PIVOT_SAMPLES keys spread over `indexes`. REQUIRES: indexes is not empty. */
function samplePivot(keys: readonly Uint8Array[], indexes: readonly number[]): Uint8Array {
  const step = Math.max(1, Math.floor(indexes.length / PIVOT_SAMPLES));
  const sample: Uint8Array[] = [];
  for (let j = 0; j < indexes.length && sample.length < PIVOT_SAMPLES; j += step) sample.push(keys[indexes[j]!]!);
  sample.sort(compareBytes);
  return sample[(sample.length - 1) >> 1]!;
}
