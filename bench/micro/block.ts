/**
 * Micro-benchmark: SSTable data blocks (engine/sst/block-builder.ts, block.ts). Build: one
 * block of 4 KiB-worth of entries (16-byte keys, 100-byte values, restart interval 16, as the
 * engine writes them). Seek: decode once, then BlockIterator.seek to every key of the block.
 *
 *   node --import tsx bench/micro/block.ts
 */
import b from 'benny';
import { encodeInternalKey, KIND_SEEK, ValueKind } from '../../engine/internal-key.ts';
import { Block } from '../../engine/sst/block.ts';
import { BlockBuilder } from '../../engine/sst/block-builder.ts';
import { DATA_RESTART_INTERVAL } from '../../engine/sst/table-format.ts';
import { BENNY_CONFIG, decimalKey, isMain, printPerItem, randomBytes, seeded, sink } from './common.ts';

const BLOCK_BYTES = 4096;

function buildBlock(keys: readonly Uint8Array[], values: readonly Uint8Array[]): Uint8Array {
  const builder = new BlockBuilder(DATA_RESTART_INTERVAL);
  for (let i = 0; i < keys.length; i++) builder.add(keys[i]!, keys[i]!.length, values[i]!);
  return builder.finish();
}

export async function runBlock(): Promise<void> {
  const random = seeded(7);
  const keys: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  // Entries until the block reaches BLOCK_BYTES, as the table builder cuts them.
  for (let i = 0, bytes = 0; bytes < BLOCK_BYTES; i++) {
    keys.push(encodeInternalKey(decimalKey(i * 7), 1000 + i, ValueKind.Put));
    values.push(randomBytes(random, 100));
    bytes += keys[i]!.length + 100 + 3;
  }
  const contents = buildBlock(keys, values).slice();
  const block = Block.decode(contents, 'bench', 0, 'data block');
  const targets = keys.map((k) => encodeInternalKey(k.subarray(0, k.length - 8), Number.MAX_SAFE_INTEGER, KIND_SEEK));
  const it = block.iterator();
  const buildName = `build a block of ${keys.length} entries`;
  const decodeName = 'decode a block (restart array)';
  const seekName = `seek to each of ${keys.length} keys`;
  const summary = await b.suite(
    'block',
    BENNY_CONFIG,
    b.add(buildName, () => {
      sink.value += buildBlock(keys, values).length;
    }),
    b.add(decodeName, () => {
      sink.value += Block.decode(contents, 'bench', 0, 'data block').restartCount;
    }),
    b.add(seekName, () => {
      for (const target of targets) {
        it.seek(target, target.length);
        if (it.valid()) sink.value++;
      }
    }),
    b.cycle(),
  );
  printPerItem(summary, [
    { name: buildName, items: keys.length, unit: 'entry' },
    { name: decodeName, items: 1, unit: 'block' },
    { name: seekName, items: keys.length, unit: 'seek' },
  ]);
}

if (isMain(import.meta.url)) await runBlock();
