/**
 * The chaos run in CI: `npm run chaos -- --seconds 20 --json` (main.ts) as a child process,
 * exactly as a person would run it: a 3-shard cluster with three controller-only nodes, 50
 * connections of acks=all writes and leader reads, a shard leader killed with kill -9 every few
 * seconds for 20 s and restarted later, the history checked. Passes when the command exits 0
 * and its figures say so: at least one failover, each ended by an acknowledged write at a later
 * term, nothing acknowledged lost, linearizable, one node acknowledging per shard and term.
 * Timing is printed, never asserted (the issue's ≤ 3 s p99 is measured by long runs on a quiet
 * machine: docs/failover.md).
 *
 * CHAOS_SECONDS and CHAOS_SEED change the run (npm run stress makes it longer).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnTs, type Child } from '../helpers/child.ts';

const SECONDS = Number(process.env['CHAOS_SECONDS'] ?? 20);
const SEED = Number(process.env['CHAOS_SEED'] ?? 7);
/** The run, its cluster's start and its check, on a busy machine. */
const RUN_WAIT_MS = (SECONDS + 600) * 1000;
/** A SIGTERM'd run kills its nodes (its exit cleanup) within this, or gets SIGKILL. */
const STOP_WAIT_MS = 15_000;

let child: Child | undefined;
after(async () => {
  if (!child || child.process.exitCode !== null || child.process.signalCode !== null) return;
  // SIGTERM first: the run's exit cleanup kills its nodes; SIGKILL would orphan them.
  child.process.kill('SIGTERM');
  await Promise.race([child.exited, delay(STOP_WAIT_MS, undefined, { ref: false })]);
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
});

test('npm run chaos: killing shard leaders under load loses no acknowledged write, stays linearizable, and every failover ends', { timeout: RUN_WAIT_MS + STOP_WAIT_MS }, async (t) => {
  child = spawnTs('test/chaos/main.ts', ['--seconds', String(SECONDS), '--seed', String(SEED), '--json']);
  // Unref'd: a pending 10-minute timer kept this file's process alive after the test had passed.
  const exit = await Promise.race([child.exited, delay(RUN_WAIT_MS, undefined, { ref: false }).then(() => undefined)]);
  const output = child.lines.join('\n');
  assert.ok(exit, `npm run chaos did not end within ${RUN_WAIT_MS} ms:\n${output}`);
  for (const line of child.lines.filter((l) => !l.startsWith('{'))) t.diagnostic(line);
  assert.deepEqual(exit, { code: 0, signal: null }, `npm run chaos failed:\n${output}\n${child.stderr().slice(-4000)}`);
  const figures = JSON.parse([...child.lines].reverse().find((l) => l.startsWith('{')) ?? 'null') as {
    acknowledged: number; lost: number; linearizable: string; termConflicts: number; failovers: number;
    perFailover: { unavailableMs?: number }[]; violations: string[];
  };
  assert.ok(figures, `no JSON figures in the output:\n${output}`);
  assert.deepEqual(figures.violations, []);
  assert.ok(figures.failovers >= 1, `${figures.failovers} failovers`);
  assert.ok(figures.perFailover.every((f) => f.unavailableMs !== undefined), 'every failover ended with an acknowledged write');
  assert.ok(figures.acknowledged > 0);
  assert.equal(figures.lost, 0);
  assert.equal(figures.linearizable, 'linearizable');
  assert.equal(figures.termConflicts, 0);
});
