/**
 * A partition test on real node processes, with TCP proxies on loopback (test/helpers/tcp-proxy.ts).
 * A shard of a leader and two replicas, three controller-only nodes. The leader is reached by
 * every other node through a proxy (its address in the config is the proxy's; it binds another
 * loopback address, where the test's clients reach it directly), and it reaches the controllers
 * through proxies of its own (cluster-harness.ts `controllersProxied`). Under an acks=all load:
 *   1. the followers' links to the leader are delayed, then cut (a blip);
 *   2. then every proxy of the leader partitions: it is cut off from its followers and from the
 *      control plane, while the test's clients still reach it. It stops acknowledging (its
 *      in-sync set still holds the followers it cannot reach, and its lease runs out); once the
 *      lease has certainly ended, the control plane elects a follower at term 2. Half the load
 *      follows the new leader, half keeps writing to the isolated old one;
 *   3. the partition heals, and the old leader learns it was deposed and follows.
 * Checked with the history checker: no acknowledged write is lost; in each term at most one
 * node acknowledged writes; and no write sent to the old leader after the new one was elected
 * was acknowledged (it accepted writes only under a lease, which ended before the election).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findLostWrites } from '../checker/index.ts';
import { CONTROL_TOML_FAILOVER, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { countOutcomes, waitElection } from '../replication/failover.ts';
import { nodeView, scanAll, waitCaughtUp, waitFor, waitInSync } from '../replication/nodes.ts';
import { acknowledgingNodesByTerm, TargetedLoad } from '../helpers/recorded-put.ts';

const REPLICATION = ['min_insync = 1', 'replica_lag_max_ms = 1000', 'heartbeat_interval_ms = 100', 'ack_timeout_ms = 3000'].join('\n');
const SHARD = 'shard-0';
const WORKERS = 6;
const WRITES_MAX = 30_000;
const LOAD_MS_MAX = 180_000;

let cluster: TestCluster | undefined;
let leader = '';
let leaderDirect = '';
let replicas: string[] = [];

before(async () => {
  cluster = await startCluster({
    shards: 1, replicas: 2, controllers: 3, controlToml: CONTROL_TOML_FAILOVER, replicationToml: REPLICATION,
    proxied: (s) => [s.leader], controllersProxied: (s) => [s.leader],
  });
  leader = cluster.shards[0]!.leader;
  leaderDirect = cluster.direct(leader);
  replicas = cluster.shards[0]!.replicas;
  await waitInSync(leaderDirect, 2);
});

after(() => cluster?.close());

test('under delay, cuts and a partition of the leader, no acknowledged write is lost and each term has one acknowledging node', async (t) => {
  // The load reaches the leader directly, not through its proxy.
  const load = new TargetedLoad({ workers: WORKERS, target: leaderDirect, writesMax: WRITES_MAX, durationMsMax: LOAD_MS_MAX, prefix: 'p' });
  const waitAcks = (what: string, node: string, more: number) => {
    const target = load.ackedBy(node) + more;
    return waitFor(what, () => load.ackedBy(node) >= target);
  };
  const proxies = [cluster!.proxies.get(leader)!, ...cluster!.controllerProxies.values()];
  try {
    await waitAcks('writes acknowledged before any fault', leaderDirect, 200);
    cluster!.proxies.get(leader)!.delay(20);
    await waitAcks('writes acknowledged over a delayed link', leaderDirect, 100);
    cluster!.proxies.get(leader)!.heal();
    cluster!.proxies.get(leader)!.cut();
    await waitAcks('writes acknowledged after a cut', leaderDirect, 100);

    for (const p of proxies) p.partition();
    const ackedBeforePartition = load.ackedBy(leaderDirect);
    const election = await waitElection([...replicas, ...cluster!.controllers], SHARD, 1);
    const electedAt = performance.now();
    assert.ok(replicas.includes(election.leader), `a follower on the majority side was elected, not ${election.leader}`);
    assert.equal(election.term, 2);
    // Half the load follows the new leader; half keeps writing to the isolated old one.
    load.retarget(election.leader, (id) => id % 2 === 0);
    await waitAcks('writes acknowledged by the new leader', election.leader, 200);
    const ackedByOldInPartition = load.ackedBy(leaderDirect) - ackedBeforePartition;
    const refusedByOld = Object.fromEntries(load.refusals.get(leaderDirect) ?? []);
    assert.ok(load.refusedBy(leaderDirect, 'LEASE_EXPIRED') > 0, `the isolated leader refused writes for want of a lease (it answered ${JSON.stringify(refusedByOld)})`);

    for (const p of proxies) p.heal();
    await waitFor('the old leader to learn it was deposed', async () => (await nodeView(leaderDirect)).role === 'replica');
    load.retarget(election.leader);
    await waitAcks('writes acknowledged after healing', election.leader, 100);
    await load.stop();

    await waitCaughtUp(leaderDirect, election.leader);
    const finalData = await scanAll(election.leader);
    const lost = findLostWrites(load.history.events, finalData);
    const byTerm = acknowledgingNodesByTerm(load.acks);
    const lateAcks = load.acks.filter((a) => a.node === leaderDirect && a.invokedAt > electedAt);
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(
      `${outcomes.ok} writes acknowledged, ${outcomes.fail} refused, ${outcomes.info} unknown (${load.ackedBy(leaderDirect)} acknowledged by the first leader, ${ackedByOldInPartition} of them once partitioned; ` +
        `${load.ackedBy(election.leader)} by the new one); acknowledging nodes per term: ${JSON.stringify([...byTerm].map(([term, s]) => [term, [...s]]))}; ` +
        `the old leader's refusals ${JSON.stringify(refusedByOld)}; lost ${lost.length}; the leader's proxy forwarded ${proxies[0]!.bytesForwarded} bytes over ${proxies[0]!.connections} connections`,
    );
    assert.deepEqual(lost, [], 'acknowledged writes were lost');
    for (const [term, nodes] of byTerm) assert.equal(nodes.size, 1, `term ${term} had ${nodes.size} acknowledging nodes: ${[...nodes].join(', ')}`);
    assert.deepEqual(lateAcks, [], 'the old leader acknowledged writes sent after the new leader was elected');
    assert.deepEqual(await scanAll(leaderDirect), finalData, 'the old leader, rejoined, holds the new leader\'s data');
  } finally {
    for (const p of proxies) p.heal();
    await load.stop();
  }
});
