/**
 * Failover with acks=1, on real node processes (a shard of a leader and two replicas, three
 * controller-only nodes): a write is acknowledged once it is in the leader's log alone, so the
 * writes the replicas had not applied when the leader died are lost. Two rounds, each
 * reporting how many:
 *
 * 1. The leader is killed under load and the control plane elects the in-sync replica that
 *    applied the most: on loopback the replicas trail by well under a millisecond, so few or
 *    none are lost (reported, not asserted).
 * 2. Both replicas die first and the leader goes on acknowledging alone (acks=1 needs no
 *    follower; it drops them from the in-sync set) before it dies too. No in-sync member is
 *    left, so only the operator's unclean promotion brings the shard back, and everything the
 *    lone leader acknowledged meanwhile is lost. The dead leader, back, acknowledges nothing,
 *    drops that tail (it exists nowhere else: a snapshot replaces its data), and ends with the
 *    new leader's data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findLostWrites } from '../checker/index.ts';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_FAILOVER, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { countOutcomes, waitForLoad, currentLeader, noCandidateReports, uncleanFailover, waitElection } from './failover.ts';
import { nodeView, scanAll, waitCaughtUp, waitFor, waitInSync } from './nodes.ts';
import { startWriteLoad } from './write-load.ts';

const REPLICATION = ['min_insync = 1', 'replica_lag_max_ms = 2000', 'heartbeat_interval_ms = 100'].join('\n');
const SHARD = 'shard-0';
const ACKED_BEFORE_KILL = 1000;
/** In round 2, writes the leader acknowledges alone, with its replicas dead, before it dies. */
const ACKED_ALONE = 300;
const LOAD_MS_MAX = 120_000;

describe('failover under an acks=1 write load', () => {
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

  it('reports how many acknowledged writes a kill of the leader loses', async (t) => {
    const client = await Client.connect([first], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 16, writesMax: 40_000, durationMsMax: LOAD_MS_MAX, acks: 1, prefix: 'r1' });
    await waitForLoad(load, `${ACKED_BEFORE_KILL} acknowledged writes`, () => load.acknowledged() >= ACKED_BEFORE_KILL);
    await cluster!.nodes.get(first)!.kill();
    await load.done;

    const election = await waitElection(members().filter((m) => m !== first), SHARD, 1);
    second = election.leader;
    assert.equal(election.term, 2);
    const lost = findLostWrites(load.history.events, await scanAll(second));
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(`round 1, acks=1: ${outcomes.ok} acknowledged; lost ${lost.length}`);
    assert.ok(outcomes.ok >= ACKED_BEFORE_KILL);
  });

  it('has the old leader, back, acknowledge nothing and follow the new leader', async () => {
    await cluster!.start(first);
    const fenced = await rawRequest(first, 'PUT', '/kv/fenced?acks=1', { body: 'no' });
    assert.equal(fenced.status, 307);
    assert.equal(fenced.headers['location'], `http://${second}/kv/fenced?acks=1`);
    assert.equal((await rawRequest(second, 'PUT', '/kv/after-rejoin', { body: 'yes' })).status, 204);
    await waitCaughtUp(first, second);
    assert.deepEqual(await scanAll(first), await scanAll(second));
    await waitInSync(second, 2);
  });

  it('loses what a leader acknowledged alone, and that leader, back, drops it', async (t) => {
    const client = await Client.connect([second], { retriesMax: 0 });
    clients.push(client);
    const load = startWriteLoad({ client, workers: 16, writesMax: 40_000, durationMsMax: LOAD_MS_MAX, acks: 1, prefix: 'r2' });
    await waitForLoad(load, '300 acknowledged writes', () => load.acknowledged() >= 300);
    const replicas = members().filter((r) => r !== second);
    await Promise.all(replicas.map((r) => cluster!.nodes.get(r)!.kill()));
    const ackedAtKill = load.acknowledged();
    await waitForLoad(load, `${ACKED_ALONE} writes acknowledged by the lone leader`, () => load.acknowledged() >= ackedAtKill + ACKED_ALONE);
    // Its in-sync set shrinks to itself alone (committed) once the replicas stopped keeping up.
    await waitFor('the lone leader to drop its dead followers from the in-sync set', async () =>
      (await nodeView(second)).replication.leader?.followers.every((f) => !f.inSync) === true);
    const controllers = cluster!.controllers.map((c) => cluster!.nodes.get(c)!);
    const reportsBefore = noCandidateReports(controllers, SHARD);
    await cluster!.nodes.get(second)!.kill();
    await load.done;
    const ackedAlone = load.acknowledged() - ackedAtKill;
    await Promise.all(replicas.map((r) => cluster!.start(r)));

    // Neither replica is in sync: the control plane elects no one and a clean promotion is
    // refused; the operator's unclean one takes the most up-to-date replica.
    const { chosen, report } = await uncleanFailover(controllers, SHARD, replicas, reportsBefore);
    assert.equal(report.term, 3);
    const lost = findLostWrites(load.history.events, await scanAll(chosen));
    t.diagnostic(`round 2, acks=1: ${load.acknowledged()} acknowledged, ${ackedAlone} of them by the leader alone; lost ${lost.length}`);
    assert.ok(lost.length > 0, 'writes acknowledged with no replica alive die with the leader');

    await cluster!.start(second);
    assert.equal((await rawRequest(second, 'PUT', '/kv/fenced-again', { body: 'no' })).status, 307);
    assert.equal((await rawRequest(chosen, 'PUT', '/kv/after-round-2', { body: 'yes' })).status, 204);
    await waitCaughtUp(second, chosen);
    const view = await nodeView(second);
    assert.equal(view.replication.follower?.snapshotsInstalled, 1, 'its divergent tail is replaced by a snapshot');
    const [mine, theirs] = await Promise.all([scanAll(second), scanAll(chosen)]);
    assert.deepEqual(mine, theirs);
    assert.ok(lost.every((w) => !mine.has(w.key)), 'none of the lost writes survives on the old leader either');
  });
});
