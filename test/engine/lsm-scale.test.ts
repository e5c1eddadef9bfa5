/**
 * The engine at scale, with default options: 1,000,000 writes of 16-byte keys and 100-byte
 * values over 400,000 distinct keys (so most keys are overwritten) with 10% deletes.
 * LSM_SCALE_WRITES lowers the count for a quick local run.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { Db } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { tempDir } from '../helpers/child.ts';

const WRITES = Number(process.env.LSM_SCALE_WRITES ?? 1_000_000);
const KEYSPACE = Math.floor(WRITES * 0.4);
const BATCH = 1000;

test('a million writes spread over several levels, keep L0 under its stop trigger, and compact to within 1.2x of the live data', async (t) => {
  const dir = tempDir('scale');
  const db = await Db.open(dir.path);
  t.after(async () => {
    await db.close();
    dir.remove();
  });
  const random = seededRandom(2024);
  const live = new Map<number, number>();
  const value = new Uint8Array(100);
  let l0Max = 0;
  for (let i = 0; i < WRITES; i += BATCH) {
    const ops: Array<{ type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }> = [];
    for (let j = 0; j < BATCH; j++) {
      const k = Math.floor(random() * KEYSPACE);
      const key = `key${String(k).padStart(13, '0')}`; // 16 bytes
      if (random() < 0.1) {
        ops.push({ type: 'del', key });
        live.delete(k);
      } else {
        value[0] = (i + j) & 0xff;
        ops.push({ type: 'put', key, value: value.slice() });
        live.set(k, (i + j) & 0xff);
      }
    }
    await db.batch(ops);
    l0Max = Math.max(l0Max, db.stats().levels[0]!.files);
  }
  const before = db.stats();
  const levelsWithData = before.levels.filter((l) => l.files > 0).length;
  t.diagnostic(`levels ${before.levels.map((l) => `L${l.level}:${l.files}`).join(' ')}; L0 max ${l0Max}; write amp ${before.writeAmplification.toFixed(2)}; stall ${before.stallMs.toFixed(0)} ms`);
  assert.ok(levelsWithData >= 2, `data in only ${levelsWithData} level(s)`);
  assert.ok(l0Max <= db.options.l0StopTrigger, `L0 reached ${l0Max} files, above the stop trigger ${db.options.l0StopTrigger}`);

  await db.compactRange();
  const diskBytes = readdirSync(dir.path)
    .filter((n) => n.endsWith('.sst'))
    .reduce((n, f) => n + statSync(`${dir.path}/${f}`).size, 0);
  const liveBytes = live.size * (16 + 100);
  t.diagnostic(`after compactRange: ${diskBytes} bytes on disk for ${liveBytes} bytes of live data (${(diskBytes / liveBytes).toFixed(3)}x)`);
  assert.ok(diskBytes <= 1.2 * liveBytes, `${diskBytes} bytes on disk is more than 1.2x the ${liveBytes} bytes of live data`);

  // And the data is right: a sample of keys, and the count.
  const check = seededRandom(7);
  for (let i = 0; i < 2000; i++) {
    const k = Math.floor(check() * KEYSPACE);
    const got = await db.get(`key${String(k).padStart(13, '0')}`);
    assert.equal(got === undefined ? undefined : got[0], live.get(k), `key ${k}`);
  }
  let count = 0;
  for await (const _ of db.iterator()) count++;
  assert.equal(count, live.size);
});
