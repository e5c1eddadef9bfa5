/**
 * The operator's routes on real node processes: a shard of a leader and two replicas, three
 * controller-only nodes. The second replica is reached by the other nodes through a TCP proxy
 * (cluster-harness.ts `proxied`), so the test can hide it from the control plane's election
 * while still talking to it.
 *
 * - `POST /admin/promote` (a clean election proposed by the node to promote) is refused while
 *   the leader may hold its lease: with the leader alive, always.
 * - With the leader and the first replica killed and the second replica hidden from the
 *   controllers (the control plane then finds no in-sync member to elect on its own), the
 *   promotion is refused (NOT_PROMOTABLE) until the dead leader's lease has certainly ended,
 *   then commits the replica as leader at the next term. The dead nodes come back as its
 *   followers.
 * - `POST /admin/transfer?to=NODE` on the leader, under an acks=all load, hands the shard to
 *   an in-sync follower once it has caught up: the next term, no acknowledged write lost, the
 *   old leader following. A transfer to a node that is not an in-sync follower, or asked of a
 *   follower, is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findLostWrites } from '../checker/index.ts';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_FAILOVER, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { countOutcomes, currentLeader, electionRecord, promoteOnceLeaseEnded, shardView, waitLeading } from '../replication/failover.ts';
import { electionOf, nodeView, requestPromote, requestTransfer, scanAll, waitCaughtUp, waitFor, waitInSync } from '../replication/nodes.ts';
import { startWriteLoad } from '../replication/write-load.ts';

const REPLICATION = ['min_insync = 1', 'heartbeat_interval_ms = 100'].join('\n');
const SHARD = 'shard-0';

describe('the operator\'s promote and transfer', () => {
  let cluster: TestCluster | undefined;
  const clients: Client[] = [];
  let leader = '';
  /** The replica killed with the leader. */
  let other = '';
  /** The replica hidden behind its proxy and promoted. */
  let hidden = '';
  after(async () => {
    for (const c of clients) c.close();
    await cluster?.close();
  });

  before(async () => {
    cluster = await startCluster({
      shards: 1, replicas: 2, controllers: 3, controlToml: CONTROL_TOML_FAILOVER, replicationToml: REPLICATION,
      proxied: (s) => [s.replicas[1]!],
    });
    const shard = cluster.shards[0]!;
    [other, hidden] = shard.replicas as [string, string];
    leader = await currentLeader([shard.leader, other], SHARD);
    assert.equal(leader, shard.leader, 'the configured leader leads (the test hides a replica, never the leader)');
    await waitInSync(leader, 2);
    assert.equal((await rawRequest(leader, 'PUT', '/kv/before?acks=all', { body: 'x' })).status, 204);
  });

  const controllers = () => cluster!.controllers.map((c) => cluster!.nodes.get(c)!);
  /** Where the test reaches `node` (the hidden replica directly, not through its proxy). */
  const at = (node: string) => cluster!.direct(node);

  it('refuses a promotion while the leader may hold its lease', async () => {
    for (const node of [other, hidden]) {
      const res = await requestPromote(at(node));
      assert.equal(res.status, 409, res.body.toString());
      assert.equal(res.json().code, 'NOT_PROMOTABLE');
      assert.match(res.json().message, /may hold a lease/);
    }
    const self = await requestPromote(leader);
    assert.equal(self.status, 409);
    assert.equal(self.json().code, 'NOT_PROMOTABLE');
    assert.match(self.json().message, /already leads/);
    assert.equal((await shardView([leader], SHARD)).term, 1, 'nothing was elected');
  });

  it('promotes an in-sync replica once the dead leader\'s lease has ended, the control plane not having elected on its own', async (t) => {
    cluster!.proxies.get(hidden)!.partition();
    await Promise.all([leader, other].map((n) => cluster!.nodes.get(n)!.kill()));
    let refusals = 0;
    const report = await promoteOnceLeaseEnded(at(hidden), false, () => refusals++);
    assert.deepEqual({ leader: report.leader, term: report.term, previous: report.previous }, { leader: hidden, term: 2, previous: leader });
    assert.equal(electionRecord(controllers(), SHARD, 2), undefined, 'term 2 came from the promotion, not from an automatic election');
    t.diagnostic(`the promotion was refused ${refusals} time(s) while the dead leader's lease could hold`);

    cluster!.proxies.get(hidden)!.heal();
    await waitLeading(at(hidden), SHARD, 2);
    const write = await rawRequest(at(hidden), 'PUT', '/kv/after-promotion?acks=1', { body: 'yes' });
    assert.equal(write.status, 204, write.body.toString());
    assert.equal(write.headers['x-term'], '2');
    await Promise.all([leader, other].map((n) => cluster!.start(n)));
    await waitInSync(at(hidden), 2);
    assert.equal((await rawRequest(at(hidden), 'PUT', '/kv/after-rejoin?acks=all', { body: 'yes' })).status, 204);
    for (const node of [leader, other]) {
      await waitCaughtUp(node, at(hidden));
      assert.equal((await nodeView(node)).replication.follower?.leader, hidden);
      assert.deepEqual(await scanAll(node), await scanAll(at(hidden)));
    }
  });

  it('hands the shard over with /admin/transfer under an acks=all load, losing nothing', async (t) => {
    const refusedFollower = await requestTransfer(other, leader);
    assert.equal(refusedFollower.status, 503, refusedFollower.body.toString());
    assert.equal(refusedFollower.json().code, 'NOT_LEADER');
    const refusedTarget = await requestTransfer(at(hidden), cluster!.controllers[0]!);
    assert.equal(refusedTarget.status, 409, refusedTarget.body.toString());
    assert.equal(refusedTarget.json().code, 'NOT_IN_SYNC');

    const client = await Client.connect([leader, other], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 4, writesMax: 10_000, durationMsMax: 120_000, acks: 'all', prefix: 'transfer' });
    await waitFor('200 acknowledged writes before the transfer', () => load.acknowledged() >= 200);
    const report = electionOf(await requestTransfer(at(hidden), leader), 'transfer');
    assert.deepEqual({ leader: report.leader, term: report.term, previous: report.previous }, { leader, term: 3, previous: hidden });
    await waitLeading(leader, SHARD, 3);
    const ackedAtTransfer = load.acknowledged();
    await waitFor('200 acknowledged writes after the transfer', () => load.acknowledged() >= ackedAtTransfer + 200);
    await load.stop();

    await waitCaughtUp(at(hidden), leader);
    const lost = findLostWrites(load.history.events, await scanAll(leader));
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(`transfer under acks=all: ${outcomes.ok} acknowledged, ${outcomes.fail} refused, ${outcomes.info} unknown (${load.answered('NOT_LEADER')} answered NOT_LEADER while the shard was handed over); lost ${lost.length}`);
    assert.deepEqual(lost, []);
    assert.equal(electionRecord(controllers(), SHARD, 3), undefined, 'term 3 came from the transfer, not from an automatic election');
    assert.equal((await nodeView(at(hidden))).replication.follower?.leader, leader, 'the old leader follows the new one');
    assert.deepEqual(await scanAll(at(hidden)), await scanAll(leader));
  });
});
