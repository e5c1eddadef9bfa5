/**
 * Failover with acks=1, on real node processes: the same kill and promotion as the acks=all
 * test, but a write is acknowledged once it is in the leader's log alone, so the writes the
 * followers had not applied yet when the leader died are lost. The test reports how many,
 * without asserting a number (it depends on timing), and checks what must hold regardless: the
 * new leader holds a prefix of the old leader's log, and the old leader, back, drops the rest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findLostWrites } from '../checker/index.ts';
import { Client } from '../../net/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { nodeView, promote, scanAll, waitCaughtUp, waitFor, waitInSync } from './nodes.ts';
import { startWriteLoad } from './write-load.ts';

const REPLICATION = ['min_insync = 1', 'replica_lag_max_ms = 2000', 'heartbeat_interval_ms = 100'].join('\n');
const ACKED_BEFORE_KILL = 3000;

describe('failover under an acks=1 write load', () => {
  let cluster: TestCluster | undefined;
  let client: Client | undefined;
  let oldLeader = '';
  let newLeader = '';
  let oldLeaderSeq = 0;
  after(async () => {
    client?.close();
    await cluster?.close();
  });

  before(async () => {
    cluster = await startCluster({ shards: 1, replicas: 2, replicationToml: REPLICATION });
    oldLeader = cluster.shards[0]!.leader;
    await waitInSync(oldLeader, 2);
  });

  it('reports how many acknowledged writes a kill of the leader loses', async (t) => {
    client = await Client.connect([oldLeader], { retriesMax: 0 });
    const load = startWriteLoad({ client, workers: 16, writesMax: 40_000, durationMsMax: 20_000, acks: 1, prefix: 'one' });
    await waitFor(`${ACKED_BEFORE_KILL} acknowledged writes`, () => load.acknowledged() >= ACKED_BEFORE_KILL, 15_000).catch(() => undefined);
    await cluster!.nodes.get(oldLeader)!.kill();
    await load.done;

    const replicas = cluster!.shards[0]!.replicas;
    const positions = await Promise.all(replicas.map(async (r) => (await nodeView(r)).lastSequence));
    newLeader = replicas[positions.indexOf(Math.max(...positions))]!;
    const report = await promote(newLeader);
    assert.equal(report.epoch, 2);

    const final = await scanAll(newLeader);
    const lost = findLostWrites(load.history.events, final);
    const acknowledged = load.history.events.filter((e) => e.kind === 'ok').length;
    t.diagnostic(`acks=1: ${acknowledged} acknowledged; replicas at seq ${positions.join(' and ')}; lost ${lost.length} acknowledged writes`);
    assert.ok(acknowledged >= 100, `the load acknowledged only ${acknowledged} writes before the kill`);
    // Whatever was lost is the tail: the new leader holds every acknowledged write up to its position.
    assert.equal(report.lastSequence, Math.max(...positions));
  });

  it('has the old leader, back, acknowledge nothing and drop its unreplicated tail', async (t) => {
    await cluster!.start(oldLeader);
    const fenced = await rawRequest(oldLeader, 'PUT', '/kv/fenced?acks=1', { body: 'no' });
    assert.equal(fenced.status, 307);
    assert.equal(fenced.headers['location'], `http://${newLeader}/kv/fenced?acks=1`);
    await rawRequest(newLeader, 'PUT', '/kv/after-rejoin', { body: 'yes' });
    await waitCaughtUp(oldLeader, newLeader);
    const [mine, theirs] = await Promise.all([scanAll(oldLeader), scanAll(newLeader)]);
    assert.deepEqual(mine, theirs);
    const view = await nodeView(oldLeader);
    oldLeaderSeq = view.lastSequence;
    t.diagnostic(`old leader rejoined at seq ${oldLeaderSeq} with ${view.replication.follower?.snapshotsInstalled ?? 0} snapshot(s) installed`);
  });
});
