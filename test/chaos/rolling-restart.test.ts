/**
 * A rolling restart (issue 14): every node of a 3-shard cluster (a leader and 2 replicas each;
 * the control plane on the config's default, the first three shard nodes, as cluster.toml
 * deploys it), one at a time, stopped with SIGTERM and started again, under an acks=all load.
 * Before the load starts and before the next node goes, the cluster must be settled: every
 * node ready, every shard's committed in-sync set whole, and the metadata unchanged for 3 s (a
 * restart that left a shard short, or a start still churning terms on a busy machine, would
 * make the next step a different test), as an operator waits for health between steps.
 *
 * What the client may retry (the load's writers, test/hosts/workload.ts, `writeRetryMsMax`):
 * any write that was not acknowledged, for up to 10 s, as a new write of a new value, after a
 * backoff and a topology refresh. A PUT of a whole value is idempotent for the application, and
 * each attempt is its own operation in the history, so the checker sees exactly what the
 * servers did. That absorbs the 503s of a handover (NOT_LEADER while the old leader is fenced,
 * LEASE_EXPIRED, SHUTTING_DOWN while it drains) and the connections it closes. The client
 * library itself (net/client.ts) retries none of them: it retries only connection failures of
 * idempotent requests, and refreshes its topology only on a redirect or a newer X-Version.
 *
 * Asserted: every node exits 0 on SIGTERM; a node that led a shard when it was stopped logged
 * that it handed the shard over, and the shard's next term has another leader; no write failed
 * after its retries ("0 failed acks=all writes"); and over the whole history nothing
 * acknowledged is lost, every key is linearizable, and no two nodes acknowledged at one term.
 * The raw refusals the retries absorbed are printed by code.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Client } from '../../net/index.ts';
import { Workload, type Connect } from '../hosts/workload.ts';
import { LocalCluster } from './local-cluster.ts';

const WAIT_MS = 180_000;
/** Before the load and between restarts: the metadata unchanged this long (no election, no in-sync change). */
const QUIET_MS = 3_000;
const ACKS_BETWEEN_RESTARTS = 20;
/** Codes a write attempt may fail with during a graceful restart (then retried); anything else is a bug. */
const EXPECTED_REFUSALS = /^(NOT_LEADER|LEASE_EXPIRED|SHUTTING_DOWN|NOT_ENOUGH_REPLICAS|UNCONFIRMED|UNAVAILABLE( \w+)?)$/;

let cluster: LocalCluster | undefined;
after(() => cluster?.close());

test('a rolling restart of every node with SIGTERM, one at a time, fails no acks=all write the client retries and loses none', { timeout: 30 * 60_000 }, async (t) => {
  cluster = await LocalCluster.start({ shards: 3, replicas: 2, controllers: 'colocated' });
  const c = cluster;
  await c.waitSettled(QUIET_MS, WAIT_MS);
  const seeds = c.shards.flatMap((s) => [s.leader, ...s.replicas]);
  const connect: Connect = (o) => Client.connect(seeds, o);
  const load = await Workload.start(connect, {
    workers: 16, keys: 24, seed: 5, opsMax: 10_000_000, durationMsMax: 60 * 60_000, requestTimeoutMs: 5_000, backoffMsMax: 200, writeRetryMsMax: 10_000,
  });
  const handovers: string[] = [];
  const started = Date.now();
  try {
    await load.waitForProgress({ acknowledged: ACKS_BETWEEN_RESTARTS }, 'writes acknowledged before the first restart', WAIT_MS);
    for (const address of c.addresses) {
      const before = await c.metadata();
      const led = before.shards.filter((s) => s.leader === address);
      const stopping = c.node(address);
      const exit = await c.terminate(address);
      assert.deepEqual(exit, { code: 0, signal: null }, `${address} exits 0 on SIGTERM:\n${stopping.stderr.slice(-3000)}`);
      const after = await c.metadata();
      for (const shard of led) {
        assert.match(stopping.stderr, /"message":"handed the shard over before stopping"/, `${address}, leader of ${shard.name}, handed it over before stopping:\n${stopping.stderr.slice(-3000)}`);
        const next = after.shards.find((s) => s.name === shard.name)!;
        assert.ok(next.term > shard.term && next.leader !== address, `${shard.name} has a new leader after ${address} stopped (term ${next.term}, leader ${next.leader})`);
        handovers.push(`${shard.name}: ${address} -> ${next.leader} (term ${next.term})`);
      }
      await c.startNode(address);
      await c.waitSettled(QUIET_MS, WAIT_MS);
      await load.waitForProgress({ acknowledged: ACKS_BETWEEN_RESTARTS }, `writes acknowledged after restarting ${address}`, WAIT_MS);
      t.diagnostic(`restarted ${address}${led.length > 0 ? ` (led ${led.map((s) => s.name).join(', ')})` : ''}: ${Math.round((Date.now() - started) / 1000)} s; ${JSON.stringify(load.counts())}`);
    }
  } finally {
    await load.stop();
  }
  const report = await load.check(connect);
  const refusals = [...report.errors].map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  t.diagnostic(`${report.summary}; ${Math.round((Date.now() - started) / 1000)} s for ${c.addresses.length} restarts`);
  t.diagnostic(`handovers: ${handovers.join('; ')}`);
  t.diagnostic(`failed attempts the retries absorbed: ${refusals}`);
  t.diagnostic(`errors the nodes logged: ${c.errorsLogged()}`);

  assert.equal(report.counts.writesFailed, 0, `writes that failed after 10 s of retries (${refusals})`);
  assert.ok(handovers.length >= c.shards.length, `every shard handed over at least once (${handovers.length} handovers)`);
  for (const code of report.errors.keys()) assert.match(code, EXPECTED_REFUSALS, `a write or read failed with ${code} during a graceful restart`);
  assert.deepEqual(report.lost, [], report.explain());
  assert.equal(report.linearizability.verdict, 'linearizable', report.explain());
  assert.deepEqual(report.termConflicts, [], report.explain());
  assert.deepEqual(report.unlabelled, [], report.explain());
});
