/**
 * The control plane's own failover, on real processes: three controller-only nodes (and one
 * shard of one node, which the bootstrap needs). CONTROLLER_KILLS times (default 5; `npm run
 * stress` runs 20): commit a marker (a `register` of a fresh unassigned address, through
 * `POST /internal/control/propose` on the Raft leader), kill -9 that leader, then propose in a
 * loop to the two others until one commits. Each time a new leader is elected; the commit it
 * returns holds every marker committed before (nothing committed is lost) at a metadata version
 * past every one seen before (the version never goes back). The killed controller is started
 * again before the next round and catches up. The time from each kill to the first commit
 * after it is the election time; the test reports p50 and p99.
 *
 * The shard's leader renews its lease with whichever controller leads: a new control-plane
 * leader waits a whole lease before it may fail a shard over, so losing the control plane's
 * leader never fails the shard over (its term stays 1), and the shard takes writes again
 * after each round (it may refuse some with LEASE_EXPIRED meanwhile: reported).
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { clusterView, waitFor, waitForValue, type ControlView } from '../replication/nodes.ts';

const KILLS = Number(process.env['CONTROLLER_KILLS'] ?? 5);
/** Between two proposals of the loop that waits for the new leader. */
const PROPOSE_RETRY_MS = 5;
const COMMIT_WAIT_MS = 60_000;
/**
 * The Raft group runs with the default ticks, so the election times are the defaults'; the
 * shard's lease is longer than the default (as in cluster-harness.ts's CONTROL_TOML_FAILOVER),
 * so that a machine starved of CPU does not turn a slow renewal into a shard failover.
 */
const CONTROL_TOML = ['lease_ms = 3000', 'lease_renew_ms = 500'].join('\n');

interface Metadata {
  version: number;
  unassigned: string[];
}

let cluster: TestCluster | undefined;

before(async () => {
  assert.ok(Number.isInteger(KILLS) && KILLS >= 1 && KILLS <= 1000, `CONTROLLER_KILLS must be 1-1000, got ${process.env['CONTROLLER_KILLS']}`);
  cluster = await startCluster({ shards: 1, controllers: 3, controlToml: CONTROL_TOML });
});

after(() => cluster?.close());

/** POST /internal/control/propose of `register node` on `controller`: the metadata after it, or undefined if it did not commit there. */
async function register(controller: string, node: string): Promise<Metadata | undefined> {
  const res = await rawRequest(controller, 'POST', '/internal/control/propose', { body: JSON.stringify({ command: { type: 'register', node } }), headers: { 'Content-Type': 'application/json' } }).catch(() => undefined);
  return res?.status === 200 ? (res.json() as Metadata) : undefined;
}

/** The controller that leads the Raft group, as the live controllers agree. */
function raftLeader(controllers: readonly string[]): Promise<string> {
  return waitForValue('a controller leading the control plane', async () => {
    const views = await Promise.all(controllers.map(async (c) => (await rawRequest(c, 'GET', '/internal/control')).json() as ControlView));
    const leader = views.find((v) => v.role === 'leader');
    return leader && views.every((v) => v.leader === leader.id) ? leader.id : undefined;
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

test(`a kill -9 of the control plane's leader, ${KILLS} times: a new leader commits every time and nothing committed is lost`, async (t) => {
  const controllers = cluster!.controllers;
  const shardLeader = cluster!.shards[0]!.leader;
  const markers: string[] = [];
  let leaseRefusals = 0;
  const electionsMs: number[] = [];
  let version = 0;
  for (let round = 0; round < KILLS; round++) {
    const leader = await raftLeader(controllers);
    const marker = `10.${Math.floor(round / 250)}.${round % 250}.1:1`;
    const before = await register(leader, marker);
    assert.ok(before, `round ${round}: the leader ${leader} committed the marker`);
    assert.ok(before.version > version, `round ${round}: version ${before.version} after ${version}`);
    markers.push(marker);

    const killedAt = performance.now();
    await cluster!.nodes.get(leader)!.kill();
    const others = controllers.filter((c) => c !== leader);
    let after: Metadata | undefined;
    for (let attempt = 0; after === undefined; attempt++) {
      assert.ok(performance.now() - killedAt < COMMIT_WAIT_MS, `round ${round}: no commit within ${COMMIT_WAIT_MS} ms of the kill`);
      after = await register(others[attempt % others.length]!, `10.255.${Math.floor(round / 250)}.${round % 250}:${attempt + 1}`);
      if (after === undefined) await delay(PROPOSE_RETRY_MS);
    }
    electionsMs.push(performance.now() - killedAt);
    assert.ok(after.version > before.version, `round ${round}: the metadata version went from ${before.version} back to ${after.version}`);
    const missing = markers.filter((m) => !after.unassigned.includes(m));
    assert.deepEqual(missing, [], `round ${round}: committed markers lost`);
    version = after.version;

    // With two controllers of three, the shard's leader renews its lease with the new leader.
    await waitFor(`round ${round}: the shard takes a write`, async () => {
      const res = await rawRequest(shardLeader, 'PUT', `/kv/round-${round}?acks=1`, { body: 'x' });
      if (res.status === 503 && res.json().code === 'LEASE_EXPIRED') leaseRefusals++;
      return res.status === 204;
    });
    assert.equal((await clusterView(shardLeader)).shards[0]!.term, 1, `round ${round}: the shard was failed over`);

    await cluster!.start(leader);
    await waitFor(`round ${round}: the restarted ${leader} applied version ${version}`, async () =>
      ((await rawRequest(leader, 'GET', '/internal/control')).json() as ControlView).metadataVersion >= version);
  }
  const sorted = [...electionsMs].sort((a, b) => a - b);
  t.diagnostic(`${KILLS} kills of the control plane's leader; from kill to the first commit: p50 ${Math.round(percentile(sorted, 50))} ms, p99 ${Math.round(percentile(sorted, 99))} ms, max ${Math.round(sorted.at(-1)!)} ms; the shard refused ${leaseRefusals} write(s) for want of a lease meanwhile`);
  assert.equal(electionsMs.length, KILLS);
});
