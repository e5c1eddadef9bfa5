/**
 * Micro-benchmark: the memtable skiplist (engine/memtable/skiplist.ts). Insert: a fresh list
 * filled with INSERT_KEYS keys in random order. Seek: findGreaterOrEqual for random present
 * keys in a list of SEEK_LIST_KEYS, SEEK_PROBES per call. Keys and values are views into
 * shared buffers of BATCH_ENTRIES entries each, as the engine's are views into WAL records.
 *
 *   node --import tsx bench/micro/skiplist.ts
 */
import b from 'benny';
import { ValueKind } from '../../engine/internal-key.ts';
import { SkipList } from '../../engine/memtable/skiplist.ts';
import { BENNY_CONFIG, decimalKey, isMain, printPerItem, seeded, sink } from './common.ts';

const INSERT_KEYS = 10_000;
const SEEK_LIST_KEYS = 100_000;
const SEEK_PROBES = 1000;
const VALUE_BYTES = 100;
const BATCH_ENTRIES = 1000;
interface Entries {
  keys: Uint8Array[];
  values: Uint8Array[];
}

/** Keys (and values beside them) laid out in shared buffers, BATCH_ENTRIES per buffer. */
function inBatches(keys: readonly Uint8Array[]): Entries {
  const out: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  for (let i = 0; i < keys.length; i += BATCH_ENTRIES) {
    const n = Math.min(BATCH_ENTRIES, keys.length - i);
    const record = new Uint8Array(n * (16 + VALUE_BYTES));
    for (let j = 0; j < n; j++) {
      const at = j * (16 + VALUE_BYTES);
      record.set(keys[i + j]!, at);
      out.push(record.subarray(at, at + 16));
      values.push(record.subarray(at + 16, at + 16 + VALUE_BYTES));
    }
  }
  return { keys: out, values };
}

function shuffledKeys(count: number, seed: number): Entries {
  const random = seeded(seed);
  const keys = Array.from({ length: count }, (_, i) => decimalKey(i));
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return inBatches(keys);
}

function fill({ keys, values }: Entries, random: () => number): SkipList {
  const list = new SkipList(random);
  for (let i = 0; i < keys.length; i++) list.insert(keys[i]!, i + 1, ValueKind.Put, values[i]!);
  return list;
}

export async function runSkiplist(): Promise<void> {
  const insertKeys = shuffledKeys(INSERT_KEYS, 1);
  const seekKeys = shuffledKeys(SEEK_LIST_KEYS, 2);
  const list = fill(seekKeys, seeded(3));
  const probes = seekKeys.keys.slice(0, SEEK_PROBES);
  const insertName = `insert ${INSERT_KEYS} keys in random order`;
  const seekName = `seek in a list of ${SEEK_LIST_KEYS}`;
  const summary = await b.suite(
    'skiplist',
    BENNY_CONFIG,
    b.add(insertName, () => {
      sink.value += fill(insertKeys, seeded(4)).count;
    }),
    b.add(seekName, () => {
      for (const key of probes) if (list.findGreaterOrEqual(key, Number.MAX_SAFE_INTEGER, ValueKind.Put) >= 0) sink.value++;
    }),
    b.cycle(),
  );
  printPerItem(summary, [
    { name: insertName, items: INSERT_KEYS, unit: 'insert' },
    { name: seekName, items: SEEK_PROBES, unit: 'seek' },
  ]);
}

if (isMain(import.meta.url)) await runSkiplist();
