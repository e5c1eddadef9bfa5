import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { killHard, spawnTs, tempDir } from '../helpers/child.ts';

const CYCLES = 3;

test('a writer killed with SIGKILL at a random moment loses no acknowledged sync write', async (t) => {
  const dir = tempDir('kill9');
  t.after(() => dir.remove());
  const seed = Date.now() % 100_000;
  const random = seededRandom(seed);
  t.diagnostic(`seed ${seed}`);
  const acked = new Map<string, string>();
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const child = spawnTs('test/fixtures/sync-writer.ts', [dir.path, String(64 * 1024)]);
    t.after(() => killHard(child));
    await child.waitForLine((l) => l.startsWith('ready'));
    const target = 50 + Math.floor(random() * 400);
    await child.waitForLine((l, n = child.lines.filter((x) => x.startsWith('ack')).length) => n >= target);
    child.process.kill('SIGKILL');
    const exit = await child.exited;
    assert.equal(exit.signal, 'SIGKILL');
    for (const line of child.lines) {
      const [tag, key, value] = line.split(' ');
      if (tag === 'ack') acked.set(key!, value!);
    }
    const db = await Db.open(dir.path);
    let missing = 0;
    for (const [key, value] of acked) {
      const got = await db.get(key);
      if (got === undefined || new TextDecoder().decode(got) !== value) missing++;
    }
    await db.close();
    assert.equal(missing, 0, `cycle ${cycle}: ${missing} of ${acked.size} acknowledged writes missing (seed ${seed})`);
  }
  assert.ok(acked.size >= CYCLES * 50);
});
