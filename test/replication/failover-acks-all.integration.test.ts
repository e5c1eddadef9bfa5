/**
 * Failover with acks=all, on real node processes: under a write load, the leader is killed
 * with SIGKILL and the most up-to-date replica promoted; every write acknowledged with
 * acks=all is then on the new leader (the history checker finds no lost write). The old
 * leader, started again, learns the new epoch before it serves, acknowledges no write (307 to
 * the new leader), drops whatever it held beyond the new leader's log, and follows it.
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
/** The leader is killed once this many writes are acknowledged (or the load's time is up). */
const ACKED_BEFORE_KILL = 2000;

describe('failover under an acks=all write load', () => {
  let cluster: TestCluster | undefined;
  let client: Client | undefined;
  let oldLeader = '';
  let newLeader = '';
  after(async () => {
    client?.close();
    await cluster?.close();
  });

  before(async () => {
    cluster = await startCluster({ shards: 1, replicas: 2, replicationToml: REPLICATION });
    oldLeader = cluster.shards[0]!.leader;
    await waitInSync(oldLeader, 2);
  });

  it('keeps every acknowledged write when the leader is killed and the most up-to-date replica promoted', async (t) => {
    client = await Client.connect([oldLeader], { retriesMax: 0 });
    const load = startWriteLoad({ client, workers: 8, writesMax: 20_000, durationMsMax: 20_000, acks: 'all', prefix: 'all' });
    await waitFor(`${ACKED_BEFORE_KILL} acknowledged writes`, () => load.acknowledged() >= ACKED_BEFORE_KILL, 15_000).catch(() => undefined);
    await cluster!.nodes.get(oldLeader)!.kill();
    await load.done;

    const replicas = cluster!.shards[0]!.replicas;
    const positions = await Promise.all(replicas.map(async (r) => (await nodeView(r)).lastSequence));
    newLeader = replicas[positions.indexOf(Math.max(...positions))]!;
    const report = await promote(newLeader);
    assert.equal(report.epoch, 2);
    assert.equal(report.leader, newLeader);
    assert.deepEqual(report.unreachable, [oldLeader], 'every live node hears of the promotion');

    const final = await scanAll(newLeader);
    const lost = findLostWrites(load.history.events, final);
    const outcomes = countOutcomes(load.history.events);
    t.diagnostic(`acks=all: ${outcomes.ok} acknowledged, ${outcomes.info} unknown, ${outcomes.fail} refused; replicas at seq ${positions.join(' and ')}; lost ${lost.length}`);
    assert.ok(outcomes.ok >= 100, `the load acknowledged only ${outcomes.ok} writes before the kill`);
    assert.deepEqual(lost, []);
  });

  it('has the other replica follow the new leader', async () => {
    const other = cluster!.shards[0]!.replicas.find((r) => r !== newLeader)!;
    // Until the other replica has connected and caught up, acks=all is refused (min_insync = 1).
    await waitInSync(newLeader, 1);
    await rawRequest(newLeader, 'PUT', '/kv/after-promotion?acks=all', { body: 'yes' }).then((res) => assert.equal(res.status, 204, res.body.toString()));
    await waitCaughtUp(other, newLeader);
    const view = await nodeView(other);
    assert.equal(view.epoch, 2);
    assert.equal(view.replication.follower?.leader, newLeader);
  });

  it('fences the old leader when it comes back: no write is acknowledged, each is redirected to the new leader', async () => {
    const node = await cluster!.start(oldLeader);
    assert.ok(node.running);
    for (const acks of ['1', 'all', '0']) {
      const res = await rawRequest(oldLeader, 'PUT', `/kv/fenced-${acks}?acks=${acks}`, { body: 'must not land here' });
      assert.equal(res.status, 307, `acks=${acks}: ${res.status} ${res.body.toString()}`);
      assert.equal(res.headers['location'], `http://${newLeader}/kv/fenced-${acks}?acks=${acks}`);
      assert.equal(res.headers['x-epoch'], '2');
    }
    const batch = await rawRequest(oldLeader, 'POST', '/batch', { body: JSON.stringify({ ops: [{ type: 'put', key: 'fenced-batch', value: 'x' }] }) });
    assert.equal(batch.status, 307);
    assert.equal((await nodeView(oldLeader)).role, 'replica');
  });

  it('has the old leader drop what it held beyond the new leader\'s log and follow it', async (t) => {
    await rawRequest(newLeader, 'PUT', '/kv/after-rejoin?acks=1', { body: 'yes' });
    await waitCaughtUp(oldLeader, newLeader);
    const [mine, theirs] = await Promise.all([scanAll(oldLeader), scanAll(newLeader)]);
    assert.deepEqual(mine, theirs);
    assert.equal(mine.get('after-rejoin'), 'yes');
    assert.ok(![...mine.keys()].some((k) => k.startsWith('fenced-')), 'no fenced write exists anywhere');
    const view = await nodeView(oldLeader);
    t.diagnostic(`old leader rejoined with ${view.replication.follower?.snapshotsInstalled ?? 0} snapshot(s) installed`);
  });
});

function countOutcomes(events: readonly { kind: string }[]): { ok: number; fail: number; info: number } {
  const counts = { ok: 0, fail: 0, info: 0 };
  let invokes = 0;
  for (const e of events) {
    if (e.kind === 'invoke') invokes++;
    else counts[e.kind as 'ok' | 'fail' | 'info']++;
  }
  counts.info += invokes - counts.ok - counts.fail - counts.info;
  return counts;
}
