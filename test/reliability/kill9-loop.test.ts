/**
 * The kill -9 loop: a child writes random batches with sync:true (small memtable, so flushes
 * and compactions are under way) and is killed with SIGKILL at a random moment, again and
 * again on the same directory. After each kill the directory must open; for each writer, the
 * state of its keys must be exactly its acknowledged batches applied in order, plus, perhaps,
 * the one batch it had begun (atomic: all of it or none); and a verify pass must find every
 * table checksum, the key order and the level invariants intact.
 *
 * KILL9_CYCLES sets the number of cycles (25 in CI; stress runs raise it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { killHard, spawnTs, tempDir } from '../helpers/child.ts';

const CYCLES = Number(process.env.KILL9_CYCLES ?? 25);
type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };
type State = Map<string, string>;

function apply(state: State, ops: Op[]): State {
  const next = new Map(state);
  for (const op of ops) {
    if (op.type === 'put') next.set(op.key, op.value);
    else next.delete(op.key);
  }
  return next;
}

function sameState(a: State, b: State): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

async function readState(db: Db): Promise<Map<string, State>> {
  const byWriter = new Map<string, State>();
  for await (const [k, v] of db.iterator()) {
    const key = new TextDecoder().decode(k);
    const writer = key.slice(0, key.indexOf('-'));
    if (!byWriter.has(writer)) byWriter.set(writer, new Map());
    byWriter.get(writer)!.set(key, new TextDecoder().decode(v));
  }
  return byWriter;
}

test('a writer killed with SIGKILL at random moments, again and again, loses no acknowledged batch and leaves a verifiable database', async (t) => {
  const dir = tempDir('kill9-loop');
  t.after(() => dir.remove());
  const seed = Number(process.env.KILL9_SEED ?? Date.now() % 100_000);
  t.diagnostic(`KILL9_SEED=${seed}`);
  const random = seededRandom(seed);
  let base = new Map<string, State>();
  let ackedTotal = 0;
  let inFlightApplied = 0;
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const child = spawnTs('test/fixtures/batch-writer.ts', [dir.path, String(seed * 1000 + cycle)]);
    t.after(() => killHard(child));
    await child.waitForLine((l) => l.startsWith('ready'));
    const acksWanted = 10 + Math.floor(random() * 150);
    await child.waitForLine(() => child.lines.filter((l) => l.startsWith('ack')).length >= acksWanted);
    // A little more time, so the kill lands at an arbitrary point of a batch, flush or compaction.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 50)));
    child.process.kill('SIGKILL');
    await child.exited;

    const acked = new Map<string, State>();
    const inFlight = new Map<string, Op[]>();
    for (const line of child.lines) {
      const [tag, id] = line.split(' ', 2);
      const writer = `w${id}`;
      if (tag === 'begin') inFlight.set(writer, JSON.parse(line.slice(`begin ${id} `.length)) as Op[]);
      else if (tag === 'ack') {
        acked.set(writer, apply(acked.get(writer) ?? base.get(writer) ?? new Map(), inFlight.get(writer)!));
        inFlight.delete(writer);
        ackedTotal++;
      }
    }
    const db = await Db.open(dir.path);
    const actual = await readState(db);
    for (const writer of new Set([...acked.keys(), ...inFlight.keys(), ...base.keys()])) {
      const expected = acked.get(writer) ?? base.get(writer) ?? new Map();
      const got = actual.get(writer) ?? new Map();
      const pending = inFlight.get(writer);
      const ok = sameState(got, expected) || (pending !== undefined && sameState(got, apply(expected, pending)));
      if (ok && pending && !sameState(got, expected)) inFlightApplied++;
      assert.ok(ok, `cycle ${cycle}, writer ${writer}: state is neither the acknowledged batches nor those plus the one in flight (seed ${seed})`);
    }
    const report = await db.verify();
    assert.ok(report.ok, `cycle ${cycle}: verify failed: ${report.problems.join('; ')}`);
    await db.close();
    base = actual;
  }
  t.diagnostic(`${CYCLES} kills, ${ackedTotal} acknowledged batches checked, ${inFlightApplied} in-flight batches found applied whole`);
});
