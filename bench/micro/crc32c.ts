/**
 * Micro-benchmark: crc32c (protocol/crc32c.ts) over a WAL record's worth (116 bytes) and a
 * data block's worth (4 KiB): every block read from disk is checked with it.
 *
 *   node --import tsx bench/micro/crc32c.ts
 */
import b from 'benny';
import { crc32c } from '../../protocol/crc32c.ts';
import { BENNY_CONFIG, isMain, printPerItem, randomBytes, seeded, sink } from './common.ts';

export async function runCrc32c(): Promise<void> {
  const random = seeded(11);
  const small = randomBytes(random, 116);
  const block = randomBytes(random, 4096);
  const smallName = 'crc32c of 116 bytes';
  const blockName = 'crc32c of 4096 bytes';
  const summary = await b.suite(
    'crc32c',
    BENNY_CONFIG,
    b.add(smallName, () => {
      sink.value ^= crc32c(small);
    }),
    b.add(blockName, () => {
      sink.value ^= crc32c(block);
    }),
    b.cycle(),
  );
  printPerItem(summary, [
    { name: smallName, items: small.length, unit: 'byte' },
    { name: blockName, items: block.length, unit: 'byte' },
  ]);
}

if (isMain(import.meta.url)) await runCrc32c();
