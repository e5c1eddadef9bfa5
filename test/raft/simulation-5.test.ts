/**
 * The deterministic simulation of Raft groups with 5 voters (see simulation.test.ts for what it
 * injects and checks). Together with the 3-voter file, 2,000 schedules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeTotals, runMany, scheduleCount } from './sim/run-many.ts';

const count = scheduleCount(500, 0.25);

test(`${count} seeded schedules of a 5-voter group keep every safety property and linearizability`, async (t) => {
  const totals = await runMany(5, count, 1_000_000);
  t.diagnostic(describeTotals(totals));
  assert.ok(totals.crashes > 0 && totals.snapshots > 0 && totals.commits > totals.schedules * 5, 'the schedules must crash members, install snapshots and commit entries');
});
