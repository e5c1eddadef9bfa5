/**
 * Group commit benchmark: sync:true puts with 1 writer and with 64 concurrent writers, on the
 * real file system. Each writer awaits its own put before the next, so with 1 writer every
 * put pays a whole fsync, and with 64 they share them.
 *
 *   npx tsx bench/group-commit.ts [--ops N] [--dir DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Db } from '../engine/index.ts';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '20000' }, dir: { type: 'string' } } });
const opsTotal = Number(values.ops);
const value = new Uint8Array(100).fill(7);

async function run(writers: number): Promise<{ opsPerSec: number; syncs: number }> {
  const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'distribkv-bench-'));
  const db = await Db.open(dir, { sync: true });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = next++; i < opsTotal; i = next++) await db.put(`key-${String(i).padStart(10, '0')}`, value);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const syncs = db.stats().walSyncs;
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return { opsPerSec: opsTotal / seconds, syncs };
}

const one = await run(1);
const many = await run(64);
console.log(`fillsync, ${opsTotal} puts of 16-byte keys and 100-byte values, sync: true`);
console.log(`  1 writer:   ${one.opsPerSec.toFixed(0).padStart(8)} ops/s  (${one.syncs} fsyncs)`);
console.log(`  64 writers: ${many.opsPerSec.toFixed(0).padStart(8)} ops/s  (${many.syncs} fsyncs)`);
console.log(`  ratio:      ${(many.opsPerSec / one.opsPerSec).toFixed(1)}x`);
