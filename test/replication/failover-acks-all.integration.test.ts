/**
 * Failover with acks=all, on real node processes, in two rounds.
 *
 * 1. Under a write load, the leader is killed with SIGKILL and the most up-to-date replica
 *    promoted: every write acknowledged with acks=all is on the new leader (the history
 *    checker finds no lost write). The old leader, started again, learns the new epoch before
 *    it serves, acknowledges no write (307 to the new leader), and follows the new leader.
 * 2. Both replicas of the new leader are killed while the load goes on: the leader, with no
 *    follower in sync, acknowledges nothing more (NOT_ENOUGH_REPLICAS, or UNCONFIRMED for the
 *    writes it had already logged). Then it dies too, the replicas come back, the most
 *    up-to-date is promoted, and again no acknowledged write is missing. The dead leader, back,
 *    drops the unconfirmed writes it logged, which exist nowhere else.
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
/** The first leader is killed once this many writes are acknowledged. */
const ACKED_BEFORE_KILL = 2000;
/** In round 2, writes refused or unconfirmed with the replicas dead before the leader dies. */
const REFUSED_BEFORE_KILL = 200;

describe('failover under an acks=all write load', () => {
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

  it('keeps every acknowledged write when the leader is killed and the most up-to-date replica promoted', async (t) => {
    const client = await Client.connect([first], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 8, writesMax: 20_000, durationMsMax: LOAD_DURATION_MS_MAX, acks: 'all', prefix: 'r1' });
    await waitForLoad(load, `${ACKED_BEFORE_KILL} acknowledged writes`, () => load.acknowledged() >= ACKED_BEFORE_KILL);
    await cluster!.nodes.get(first)!.kill();
    await load.done;

    const failover = await promoteMostUpToDate(cluster!.shards[0]!.replicas);
    second = failover.newLeader;
    assert.equal(failover.epoch, 2);
    assert.deepEqual(failover.unreachable, [first], 'every live node hears of the promotion');
    const lost = findLostWrites(load.history.events, await scanAll(second));
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(`round 1, acks=all: ${outcomes.ok} acknowledged, ${outcomes.info} unknown, ${outcomes.fail} refused; replicas at seq ${failover.positions.join(' and ')}; lost ${lost.length}`);
    assert.ok(outcomes.ok >= 100, `the load acknowledged only ${outcomes.ok} writes before the kill`);
    assert.deepEqual(lost, []);
  });

  it('fences the old leader when it comes back: no write is acknowledged, each is redirected to the new leader', async () => {
    await cluster!.start(first);
    for (const acks of ['1', 'all', '0']) {
      const res = await rawRequest(first, 'PUT', `/kv/fenced-${acks}?acks=${acks}`, { body: 'must not land here' });
      assert.equal(res.status, 307, `acks=${acks}: ${res.status} ${res.body.toString()}`);
      assert.equal(res.headers['location'], `http://${second}/kv/fenced-${acks}?acks=${acks}`);
      assert.equal(res.headers['x-epoch'], '2');
    }
    const batch = await rawRequest(first, 'POST', '/batch', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ops: [{ type: 'put', key: 'fenced-batch', value: 'x' }] }) });
    assert.equal(batch.status, 307);
    assert.equal((await nodeView(first)).role, 'replica');
  });

  it('has both replicas follow the new leader, the old leader included', async () => {
    // Until a replica has connected and caught up, acks=all is refused (min_insync = 1).
    await waitInSync(second, 2);
    const res = await rawRequest(second, 'PUT', '/kv/after-promotion?acks=all', { body: 'yes' });
    assert.equal(res.status, 204, res.body.toString());
    for (const replica of cluster!.shards[0]!.replicas.filter((r) => r !== second).concat(first)) {
      await waitCaughtUp(replica, second);
      assert.equal((await nodeView(replica)).replication.follower?.leader, second);
      assert.deepEqual(await scanAll(replica), await scanAll(second));
    }
  });

  it('acknowledges nothing while no replica is in sync, and loses nothing it acknowledged', async (t) => {
    const client = await Client.connect([second], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 8, writesMax: 20_000, durationMsMax: LOAD_DURATION_MS_MAX, acks: 'all', prefix: 'r2' });
    await waitForLoad(load, '500 acknowledged writes', () => load.acknowledged() >= 500);
    const replicas = [first, ...cluster!.shards[0]!.replicas.filter((r) => r !== second)];
    await Promise.all(replicas.map((r) => cluster!.nodes.get(r)!.kill()));
    const ackedAtKill = load.acknowledged();
    const refusedAtKill = load.unacknowledged();
    await waitForLoad(load, `${REFUSED_BEFORE_KILL} writes refused by the lone leader`, () => load.unacknowledged() >= refusedAtKill + REFUSED_BEFORE_KILL);
    const ackedAlone = load.acknowledged() - ackedAtKill;
    await cluster!.nodes.get(second)!.kill();
    await load.done;
    await Promise.all(replicas.map((r) => cluster!.start(r)));

    const failover = await promoteMostUpToDate(replicas);
    assert.equal(failover.epoch, 3);
    const lost = findLostWrites(load.history.events, await scanAll(failover.newLeader));
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(`round 2, acks=all: ${outcomes.ok} acknowledged (${ackedAlone} after the replicas died), ${outcomes.fail} refused, ${outcomes.info} unknown; lost ${lost.length}`);
    assert.deepEqual(lost, []);

    // The dead leader comes back, fenced, and ends with exactly the new leader's data.
    await cluster!.start(second);
    assert.equal((await rawRequest(second, 'PUT', '/kv/fenced-again', { body: 'no' })).status, 307);
    await rawRequest(failover.newLeader, 'PUT', '/kv/after-round-2', { body: 'yes' });
    await waitCaughtUp(second, failover.newLeader);
    assert.deepEqual(await scanAll(second), await scanAll(failover.newLeader));
    t.diagnostic(`the leader of round 2 rejoined with ${(await nodeView(second)).replication.follower?.snapshotsInstalled ?? 0} snapshot(s) installed`);
  });
});
