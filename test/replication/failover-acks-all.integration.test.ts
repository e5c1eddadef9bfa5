/**
 * Failover with acks=all, on real node processes (a shard of a leader and two replicas, and
 * three controller-only nodes running the control plane), in two rounds.
 *
 * 1. Under a write load, the leader is killed with SIGKILL; once its lease has certainly ended
 *    the control plane elects, on its own, the in-sync replica that applied the most: every
 *    write acknowledged with acks=all is on the new leader (the history checker finds no lost
 *    write). The old leader, started again, learns the new term before it serves, acknowledges
 *    no write (307 to the new leader), and follows the new leader.
 * 2. Both replicas of the new leader are killed while the load goes on: the leader drops them
 *    from the committed in-sync set and, with `min_insync = 1`, acknowledges nothing more
 *    (NOT_ENOUGH_REPLICAS, or UNCONFIRMED for the writes it had already logged). Then it dies
 *    too and the replicas come back: no in-sync member is alive, so the control plane elects no
 *    one and a clean promotion is refused; the operator's unclean promotion of the most
 *    up-to-date replica loses no acknowledged write, since none was acknowledged without the
 *    replicas. The dead leader, back, drops the unconfirmed writes it logged, which exist
 *    nowhere else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findLostWrites } from '../checker/index.ts';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_FAILOVER, startCluster, type NodeProcess, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { countOutcomes, waitForLoad, currentLeader, waitElectionRecord, noCandidateReports, uncleanFailover, waitElection } from './failover.ts';
import { nodeView, scanAll, waitCaughtUp, waitFor, waitInSync } from './nodes.ts';
import { startWriteLoad } from './write-load.ts';

const REPLICATION = ['min_insync = 1', 'replica_lag_max_ms = 2000', 'heartbeat_interval_ms = 100'].join('\n');
const SHARD = 'shard-0';
/** The first leader is killed once this many writes are acknowledged. */
const ACKED_BEFORE_KILL = 500;
/** In round 2, writes the lone leader refuses before it dies. */
const REFUSED_BEFORE_KILL = 50;
const LOAD_MS_MAX = 120_000;

describe('failover under an acks=all write load', () => {
  let cluster: TestCluster | undefined;
  const clients: Client[] = [];
  let first = '';
  let second = '';
  after(async () => {
    for (const c of clients) c.close();
    await cluster?.close();
  });

  /** The shard's three nodes, whichever leads. */
  const members = (): string[] => [cluster!.shards[0]!.leader, ...cluster!.shards[0]!.replicas];

  before(async () => {
    cluster = await startCluster({ shards: 1, replicas: 2, controllers: 3, controlToml: CONTROL_TOML_FAILOVER, replicationToml: REPLICATION });
    first = await currentLeader(members(), SHARD);
    await waitInSync(first, 2);
  });

  const controllers = (): NodeProcess[] => cluster!.controllers.map((c) => cluster!.nodes.get(c)!);

  it('keeps every acknowledged write when the leader is killed and the control plane elects the most up-to-date in-sync replica', async (t) => {
    const client = await Client.connect([first], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 8, writesMax: 20_000, durationMsMax: LOAD_MS_MAX, acks: 'all', prefix: 'r1' });
    await waitForLoad(load, `${ACKED_BEFORE_KILL} acknowledged writes`, () => load.acknowledged() >= ACKED_BEFORE_KILL);
    await cluster!.nodes.get(first)!.kill();
    await load.done;

    const replicas = members().filter((m) => m !== first);
    const election = await waitElection(replicas, SHARD, 1);
    second = election.leader;
    assert.equal(election.term, 2);
    assert.ok(replicas.includes(second), `the new leader ${second} is one of the replicas`);
    const record = await waitElectionRecord(controllers(), SHARD, 2);
    assert.equal(record.previous, first);
    const best = Math.max(...record.candidates.map((c) => c.lastSequence));
    assert.equal(record.candidates.find((c) => c.node === second)?.lastSequence, best, `elected the candidate that applied the most: ${JSON.stringify(record.candidates)}`);

    const lost = findLostWrites(load.history.events, await scanAll(second));
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(`round 1, acks=all: ${outcomes.ok} acknowledged, ${outcomes.info} unknown, ${outcomes.fail} refused; candidates ${JSON.stringify(record.candidates)}; lost ${lost.length}`);
    assert.ok(outcomes.ok >= ACKED_BEFORE_KILL);
    assert.deepEqual(lost, []);
  });

  it('fences the old leader when it comes back: no write is acknowledged, each is redirected to the new leader', async () => {
    await cluster!.start(first);
    for (const acks of ['1', 'all', '0']) {
      const res = await rawRequest(first, 'PUT', `/kv/fenced-${acks}?acks=${acks}`, { body: 'must not land here' });
      assert.equal(res.status, 307, `acks=${acks}: ${res.status} ${res.body.toString()}`);
      assert.equal(res.headers['location'], `http://${second}/kv/fenced-${acks}?acks=${acks}`);
      assert.equal(res.headers['x-term'], '2');
    }
    const batch = await rawRequest(first, 'POST', '/batch', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ops: [{ type: 'put', key: 'fenced-batch', value: 'x' }] }) });
    assert.equal(batch.status, 307);
    const view = await nodeView(first);
    assert.equal(view.role, 'replica');
    assert.equal(view.term, 2);
  });

  it('has both replicas follow the new leader, the old leader included', async () => {
    // Until a replica has connected, caught up and been committed back into the in-sync set, acks=all waits for it.
    await waitInSync(second, 2);
    const res = await rawRequest(second, 'PUT', '/kv/after-failover?acks=all', { body: 'yes' });
    assert.equal(res.status, 204, res.body.toString());
    assert.equal(res.headers['x-term'], '2');
    for (const replica of members().filter((r) => r !== second)) {
      await waitCaughtUp(replica, second);
      assert.equal((await nodeView(replica)).replication.follower?.leader, second);
      assert.deepEqual(await scanAll(replica), await scanAll(second));
    }
  });

  it('acknowledges nothing once no follower is in sync, and an unclean promotion then loses nothing it acknowledged', async (t) => {
    const client = await Client.connect([second], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 8, writesMax: 20_000, durationMsMax: LOAD_MS_MAX, acks: 'all', prefix: 'r2' });
    await waitForLoad(load, '300 acknowledged writes', () => load.acknowledged() >= 300);
    const replicas = members().filter((r) => r !== second);
    await Promise.all(replicas.map((r) => cluster!.nodes.get(r)!.kill()));
    const ackedAtKill = load.acknowledged();
    // The leader commits an in-sync set of itself alone, then refuses acks=all writes up front.
    await waitForLoad(load, `${REFUSED_BEFORE_KILL} writes refused by the lone leader`, () => load.answered('NOT_ENOUGH_REPLICAS') >= REFUSED_BEFORE_KILL);
    const ackedAlone = load.acknowledged() - ackedAtKill;
    const reportsBefore = noCandidateReports(controllers(), SHARD);
    await cluster!.nodes.get(second)!.kill();
    await load.done;
    await Promise.all(replicas.map((r) => cluster!.start(r)));

    // No in-sync member is alive: the control plane elects no one and a clean promotion is
    // refused; the operator's unclean one takes the most up-to-date replica.
    const { chosen, positions, report } = await uncleanFailover(controllers(), SHARD, replicas, reportsBefore);
    assert.equal(report.term, 3);
    assert.equal(report.previous, second);

    const lost = findLostWrites(load.history.events, await scanAll(chosen));
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(`round 2, acks=all: ${outcomes.ok} acknowledged (${ackedAlone} after the replicas died), ${outcomes.fail} refused, ${outcomes.info} unknown; replicas at seq ${positions.join(' and ')}; lost ${lost.length}`);
    assert.deepEqual(lost, []);

    // The dead leader comes back, fenced, and ends with exactly the new leader's data.
    await cluster!.start(second);
    const fenced = await rawRequest(second, 'PUT', '/kv/fenced-again', { body: 'no' });
    assert.equal(fenced.status, 307);
    assert.equal(fenced.headers['x-term'], '3');
    assert.equal((await rawRequest(chosen, 'PUT', '/kv/after-round-2', { body: 'yes' })).status, 204);
    await waitCaughtUp(second, chosen);
    assert.deepEqual(await scanAll(second), await scanAll(chosen));
    t.diagnostic(`the leader of round 2 rejoined with ${(await nodeView(second)).replication.follower?.snapshotsInstalled ?? 0} snapshot(s) installed`);
  });
});
