/**
 * Micro-benchmark: the memtable skiplist (engine/memtable/skiplist.ts). Insert: a fresh list
 * filled with INSERT_KEYS keys in random order. Seek: findGreaterOrEqual for random present
 * keys in a list of SEEK_LIST_KEYS, SEEK_PROBES per call.
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
const VALUE = new Uint8Array(100);

function shuffledKeys(count: number, seed: number): Uint8Array[] {
  const random = seeded(seed);
  const keys = Array.from({ length: count }, (_, i) => decimalKey(i));
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return keys;
}

function fill(keys: readonly Uint8Array[], random: () => number): SkipList {
  const list = new SkipList(random);
  for (let i = 0; i < keys.length; i++) list.insert(keys[i]!, i + 1, ValueKind.Put, VALUE);
  return list;
}

export async function runSkiplist(): Promise<void> {
  const insertKeys = shuffledKeys(INSERT_KEYS, 1);
  const seekKeys = shuffledKeys(SEEK_LIST_KEYS, 2);
  const list = fill(seekKeys, seeded(3));
  const probes = seekKeys.slice(0, SEEK_PROBES);
  const insertName = `insert ${INSERT_KEYS} keys in random order`;
  const seekName = `seek in a list of ${SEEK_LIST_KEYS}`;
  const summary = await b.suite(
    'skiplist',
    BENNY_CONFIG,
    b.add(insertName, () => {
      sink.value += fill(insertKeys, seeded(4)).count;
    }),
    b.add(seekName, () => {
      for (const key of probes) if (list.findGreaterOrEqual(key, Number.MAX_SAFE_INTEGER, ValueKind.Put) !== null) sink.value++;
    }),
    b.cycle(),
  );
  printPerItem(summary, [
    { name: insertName, items: INSERT_KEYS, unit: 'insert' },
    { name: seekName, items: SEEK_PROBES, unit: 'seek' },
  ]);
}

if (isMain(import.meta.url)) await runSkiplist();
