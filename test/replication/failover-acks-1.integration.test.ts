/**
 * Failover with acks=1, on real node processes: a write is acknowledged once it is in the
 * leader's log alone, so the writes the replicas had not applied when the leader died are
 * lost. Two rounds, each reporting how many (without asserting a number):
 *
 * 1. The leader is killed under load, as in the acks=all test: on loopback the replicas trail
 *    by well under a millisecond, so few or none are lost.
 * 2. Both replicas die first and the leader goes on acknowledging alone before it dies too:
 *    everything it acknowledged meanwhile is lost. The dead leader, back, acknowledges
 *    nothing, drops that tail (it exists nowhere else: a snapshot replaces its data), and ends
 *    with the new leader's data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findLostWrites } from '../checker/index.ts';
import { Client } from '../../net/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { countOutcomes, LOAD_DURATION_MS_MAX, promoteMostUpToDate, waitForLoad } from './failover.ts';
import { nodeView, scanAll, waitCaughtUp, waitInSync } from './nodes.ts';
import { startWriteLoad } from './write-load.ts';

const REPLICATION = ['min_insync = 1', 'replica_lag_max_ms = 2000', 'heartbeat_interval_ms = 100'].join('\n');
const ACKED_BEFORE_KILL = 3000;
/** In round 2, writes the leader acknowledges alone, with its replicas dead, before it dies. */
const ACKED_ALONE = 300;

describe('failover under an acks=1 write load', () => {
  let cluster: TestCluster | undefined;
  const clients: Client[] = [];
  let first = '';
  let second = '';
  after(async () => {
    for (const c of clients) c.close();
    await cluster?.close();
  });

  before(async () => {
    cluster = await startCluster({ shards: 1, replicas: 2, replicationToml: REPLICATION });
    first = cluster.shards[0]!.leader;
    await waitInSync(first, 2);
  });

  it('reports how many acknowledged writes a kill of the leader loses', async (t) => {
    const client = await Client.connect([first], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 16, writesMax: 40_000, durationMsMax: LOAD_DURATION_MS_MAX, acks: 1, prefix: 'r1' });
    await waitForLoad(load, `${ACKED_BEFORE_KILL} acknowledged writes`, () => load.acknowledged() >= ACKED_BEFORE_KILL);
    await cluster!.nodes.get(first)!.kill();
    await load.done;

    const failover = await promoteMostUpToDate(cluster!.shards[0]!.replicas);
    second = failover.newLeader;
    const lost = findLostWrites(load.history.events, await scanAll(second));
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(`round 1, acks=1: ${outcomes.ok} acknowledged; replicas at seq ${failover.positions.join(' and ')}; lost ${lost.length}`);
    assert.ok(outcomes.ok >= 100, `the load acknowledged only ${outcomes.ok} writes before the kill`);
  });

  it('has the old leader, back, acknowledge nothing and follow the new leader', async () => {
    await cluster!.start(first);
    const fenced = await rawRequest(first, 'PUT', '/kv/fenced?acks=1', { body: 'no' });
    assert.equal(fenced.status, 307);
    assert.equal(fenced.headers['location'], `http://${second}/kv/fenced?acks=1`);
    await rawRequest(second, 'PUT', '/kv/after-rejoin', { body: 'yes' });
    await waitCaughtUp(first, second);
    assert.deepEqual(await scanAll(first), await scanAll(second));
    await waitInSync(second, 2);
  });

  it('loses what a leader acknowledged alone, and that leader, back, drops it', async (t) => {
    const client = await Client.connect([second], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 16, writesMax: 40_000, durationMsMax: LOAD_DURATION_MS_MAX, acks: 1, prefix: 'r2' });
    await waitForLoad(load, '500 acknowledged writes', () => load.acknowledged() >= 500);
    const replicas = [first, ...cluster!.shards[0]!.replicas.filter((r) => r !== second)];
    await Promise.all(replicas.map((r) => cluster!.nodes.get(r)!.kill()));
    const ackedAtKill = load.acknowledged();
    await waitForLoad(load, `${ACKED_ALONE} writes acknowledged by the lone leader`, () => load.acknowledged() >= ackedAtKill + ACKED_ALONE);
    await cluster!.nodes.get(second)!.kill();
    await load.done;
    const ackedAlone = load.acknowledged() - ackedAtKill;
    await Promise.all(replicas.map((r) => cluster!.start(r)));

    const failover = await promoteMostUpToDate(replicas);
    const lost = findLostWrites(load.history.events, await scanAll(failover.newLeader));
    t.diagnostic(`round 2, acks=1: ${load.acknowledged()} acknowledged, ${ackedAlone} of them by the leader alone; lost ${lost.length}`);
    assert.ok(lost.length > 0, 'writes acknowledged with no replica alive die with the leader');

    await cluster!.start(second);
    assert.equal((await rawRequest(second, 'PUT', '/kv/fenced-again', { body: 'no' })).status, 307);
    await rawRequest(failover.newLeader, 'PUT', '/kv/after-round-2', { body: 'yes' });
    await waitCaughtUp(second, failover.newLeader);
    const view = await nodeView(second);
    assert.equal(view.replication.follower?.snapshotsInstalled, 1, 'its divergent tail is replaced by a snapshot');
    const [mine, theirs] = await Promise.all([scanAll(second), scanAll(failover.newLeader)]);
    assert.deepEqual(mine, theirs);
    assert.ok(lost.every((w) => !mine.has(w.key)), 'none of the lost writes survives on the old leader either');
  });
});
