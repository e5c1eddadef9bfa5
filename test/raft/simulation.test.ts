/**
 * The deterministic simulation of Raft groups (test/raft/sim/) over many seeds, 3 voters:
 * message drop, duplication, delay and reordering, partitions, slow fsyncs, crash-restarts
 * through MemoryFileSystem crash states, leadership transfers, membership changes and
 * snapshots; the five safety properties checked after every step, the clients' history checked
 * for linearizability at the end. simulation-5.test.ts runs 5 voters; together, 2,000 schedules.
 * Sizing: see sim/run-many.ts. A failure names the seed and the command replaying it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeTotals, runMany, scheduleCount } from './sim/run-many.ts';

const count = scheduleCount(1500, 0.75);

test(`${count} seeded schedules of a 3-voter group keep every safety property and linearizability`, async (t) => {
  const totals = await runMany(3, count, 0);
  t.diagnostic(describeTotals(totals));
  assert.ok(totals.crashes > 0 && totals.snapshots > 0 && totals.commits > totals.schedules * 5, 'the schedules must crash members, install snapshots and commit entries');
});
