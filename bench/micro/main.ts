/**
 * `npm run bench:micro`: the component micro-benchmarks (benny; apply times CPU itself), one
 * after another: skiplist insert and seek, bloom filter build and probe (against the
 * bloom-filters package), block build and seek, crc32c, WAL append, a follower's applyBatch.
 * Each file also runs alone (see its header).
 *
 *   npm run bench:micro [-- skiplist,bloom,block,crc32c,wal,apply]
 */
import { runApply } from './apply.ts';
import { runBlock } from './block.ts';
import { runBloom } from './bloom.ts';
import { runCrc32c } from './crc32c.ts';
import { runSkiplist } from './skiplist.ts';
import { runWal } from './wal.ts';

const SUITES: Record<string, () => Promise<void>> = { skiplist: runSkiplist, bloom: () => runBloom(), block: runBlock, crc32c: runCrc32c, wal: runWal, apply: runApply };

const wanted = process.argv[2]?.split(',') ?? Object.keys(SUITES);
for (const name of wanted) {
  const run = SUITES[name];
  if (!run) throw new Error(`bench:micro: unknown suite ${JSON.stringify(name)} (expected one of ${Object.keys(SUITES).join(', ')})`);
  console.log(`\n=== ${name}`);
  await run();
}
