/**
 * Issue 13's first failure, as a regression test on real node processes in network namespaces
 * (netns-cluster.ts; a loopback proxy cannot cut a node off from some peers and not others).
 *
 * Under the old design a partition isolated the old leader with one follower; a replica on the
 * other side was promoted, and the old leader went on confirming acks=all writes with the
 * follower it kept. On healing all of them were discarded (20 of 20 lost).
 *
 * Here: a shard of a leader and two followers, three controller-only nodes, `min_insync = 0`
 * (so the majority side, with one follower, can take acks=all writes at all). Under an acks=all
 * load the leader and one follower are cut off from the controllers and from the other follower.
 * The cut-off leader stops acknowledging: its committed in-sync set still holds the follower it
 * cannot reach, it cannot commit a smaller one without the controllers, and its lease runs out.
 * The majority side elects the other follower once the lease has certainly ended. After healing,
 * the old leader and its follower rejoin the new leader and drop what they logged alone.
 * Checked: 0 acknowledged writes lost (test/checker `findLostWrites`); no term in which two
 * nodes acknowledged writes (each 204's `X-Term` and who answered it); and no write sent to the
 * old leader after the election was seen got a 204.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findLostWrites } from '../checker/index.ts';
import { CONTROL_TOML_FAILOVER } from '../helpers/cluster-harness.ts';
import { acknowledgingNodesByTerm, TargetedLoad } from '../helpers/recorded-put.ts';
import { hostsUnavailable } from '../hosts/capability.ts';
import { countOutcomes, currentLeader, waitElection } from '../replication/failover.ts';
import { nodeView, scanAll, useToken, waitCaughtUp, waitFor, waitInSync } from '../replication/nodes.ts';
import { NetnsCluster } from './netns-cluster.ts';

const REPLICATION = ['min_insync = 0', 'heartbeat_interval_ms = 100', 'ack_timeout_ms = 3000'].join('\n');
const SHARD = 'shard-0';
const WORKERS = 6;
const WRITES_MAX = 30_000;
const LOAD_MS_MAX = 180_000;

const skip = await hostsUnavailable();
let cluster: NetnsCluster | undefined;

before(async () => {
  if (skip) return;
  cluster = await NetnsCluster.start({ replicas: 2, controllers: 3, replicationToml: REPLICATION, controlToml: CONTROL_TOML_FAILOVER });
  useToken(cluster.token);
  const leader = await currentLeader([cluster.leader, ...cluster.replicas], SHARD);
  assert.equal(leader, cluster.leader, 'the configured leader leads');
  await waitInSync(leader, 2);
});

after(async () => {
  useToken(undefined);
  await cluster?.close();
});

test('the old leader cut off with one follower acknowledges nothing the new leader lacks, and no term has two acknowledging nodes', { skip }, async (t) => {
  const { leader: old, controllers } = cluster!;
  const [kept, other] = cluster!.replicas as [string, string];
  const load = new TargetedLoad({ workers: WORKERS, target: old, writesMax: WRITES_MAX, durationMsMax: LOAD_MS_MAX, prefix: 'm' });
  const waitAcks = (what: string, node: string, more: number) => {
    const target = load.ackedBy(node) + more;
    return waitFor(what, () => load.ackedBy(node) >= target);
  };
  try {
    await waitAcks('writes acknowledged before the partition', old, 200);
    const cutAt = performance.now();
    await cluster!.partition([[old, kept], [other, ...controllers]]);
    const ackedBeforeCut = load.ackedBy(old);

    const election = await waitElection([other, ...controllers], SHARD, 1);
    const electedAt = performance.now();
    assert.deepEqual({ leader: election.leader, term: election.term }, { leader: other, term: 2 }, 'the majority side elects its follower');
    // Half the load follows the new leader; half keeps writing to the cut-off old one.
    load.retarget(other, (id) => id % 2 === 0);
    await waitAcks('writes acknowledged by the new leader', other, 200);
    const refusedByOld = Object.fromEntries(load.refusals.get(old) ?? []);
    assert.ok(load.refusedBy(old, 'LEASE_EXPIRED') > 0, `the cut-off leader refused writes for want of a lease (it answered ${JSON.stringify(refusedByOld)})`);

    await cluster!.heal();
    await waitFor('the old leader to learn it was deposed', async () => (await nodeView(old)).role === 'replica');
    load.retarget(other);
    await waitAcks('writes acknowledged after healing', other, 100);
    await load.stop();

    await waitCaughtUp(old, other);
    await waitCaughtUp(kept, other);
    const finalData = await scanAll(other);
    const lost = findLostWrites(load.history.events, finalData);
    const byTerm = acknowledgingNodesByTerm(load.acks);
    const oldAcks = load.acks.filter((a) => a.node === old);
    const lastOldAckMs = Math.max(...oldAcks.map((a) => a.invokedAt)) - cutAt;
    const lateAcks = oldAcks.filter((a) => a.invokedAt > electedAt);
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(
      `${outcomes.ok} acks=all writes acknowledged, ${outcomes.fail} refused, ${outcomes.info} unknown; by the old leader ${oldAcks.length} ` +
        `(${oldAcks.length - ackedBeforeCut} completed after the cut; the last one was sent ${Math.abs(Math.round(lastOldAckMs))} ms ${lastOldAckMs < 0 ? 'before' : 'after'} it), by the new one ${load.ackedBy(other)}; ` +
        `the old leader's refusals ${JSON.stringify(refusedByOld)}; election seen ${Math.round(electedAt - cutAt)} ms after the cut; ` +
        `acknowledging nodes per term ${JSON.stringify([...byTerm].map(([term, s]) => [term, [...s]]))}; lost ${lost.length}`,
    );
    assert.deepEqual(lost, [], 'acknowledged writes were lost');
    for (const [term, nodes] of byTerm) assert.equal(nodes.size, 1, `term ${term} had ${nodes.size} acknowledging nodes: ${[...nodes].join(', ')}`);
    assert.deepEqual(lateAcks, [], 'the old leader acknowledged writes sent after the new leader was elected');
    assert.deepEqual(await scanAll(old), finalData, 'the old leader, rejoined, holds the new leader\'s data');
    assert.deepEqual(await scanAll(kept), finalData, 'so does the follower it kept');
  } finally {
    await cluster!.heal();
    await load.stop();
  }
});
