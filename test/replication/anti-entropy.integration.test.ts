/**
 * Anti-entropy on real node processes. A follower is stopped and its engine opened directly,
 * behind the replication stream's back: one key changed, one deleted, one added. Each of
 * those local writes also takes a sequence number, so once restarted the follower believes
 * it holds three of the leader's ops it never saw. The log cannot notice any of this; the
 * periodic anti-entropy pass compares range digests, finds the six keys that differ, and
 * repairs them through the leader's log, after which the follower's data equals the leader's.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Db } from '../../engine/index.ts';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_STEADY, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { nodeView, scanAll, waitCaughtUp, waitFor, waitInSync } from './nodes.ts';

// Small ranges, so the pass has several to compare and must find the right ones.
const REPLICATION = ['anti_entropy_interval_ms = 1000', 'anti_entropy_range_keys = 64', 'heartbeat_interval_ms = 100'].join('\n');

describe('anti-entropy', () => {
  let cluster: TestCluster | undefined;
  let client: Client | undefined;
  let leader = '';
  let follower = '';
  after(async () => {
    client?.close();
    await cluster?.close();
  });

  before(async () => {
    cluster = await startCluster({ shards: 1, replicas: 1, controlToml: CONTROL_TOML_STEADY, replicationToml: REPLICATION });
    leader = cluster.shards[0]!.leader;
    follower = cluster.shards[0]!.replicas[0]!;
    await waitInSync(leader, 1);
    client = await Client.connect([leader]);
    for (let i = 0; i < 500; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => client!.put(key(i + j), `value-${i + j}`)));
    await waitCaughtUp(follower, leader);
  });

  it('repairs a follower whose data was changed behind the replication stream', async (t) => {
    assert.deepEqual((await cluster!.nodes.get(follower)!.stop('SIGTERM')).code, 0);
    const db = await Db.open(path.join(cluster!.dataDir(follower), 'db'));
    try {
      await db.put(key(5), 'changed behind the stream');
      await db.delete(key(7));
      await db.put('zz-extra', 'never written through the leader');
    } finally {
      await db.close();
    }
    // The leader moves on meanwhile: its next three ops are the ones the follower thinks it has.
    for (let i = 500; i < 510; i++) await client!.put(key(i), `value-${i}`);
    await cluster!.start(follower);
    await waitFor('the follower\'s data equals the leader\'s', async () => diff(await scanAll(follower), await scanAll(leader)).length === 0);
    // The periodic pass said what it repaired: exactly the six damaged keys, once. (Its log line
    // travels on another pipe than the scans' answers, so it may arrive after them.)
    const leaderNode = cluster!.nodes.get(leader)!;
    const repairs = () => leaderNode.logs('anti-entropy repaired keys') as unknown as { keys: number; sample: string[] }[];
    await waitFor('the leader to log the repair of six keys', () => repairs().reduce((sum, r) => sum + r.keys, 0) >= 6);
    const repaired = repairs().flatMap((r) => r.sample).sort();
    assert.deepEqual(repaired, [key(5), key(500), key(501), key(502), key(7), 'zz-extra'].sort());
    const after = await scanAll(follower);
    assert.equal(after.get(key(5)), 'value-5');
    assert.equal(after.get(key(7)), 'value-7');
    assert.equal(after.has('zz-extra'), false);
    assert.equal(after.get(key(501)), 'value-501');

    // A pass run now finds nothing left to repair.
    const res = await rawRequest(leader, 'POST', '/admin/anti-entropy');
    assert.equal(res.status, 200, res.body.toString());
    const report = res.json() as { keysRepaired: number; followers: { node: string; ranges: number; differingRanges: number }[] };
    assert.equal(report.keysRepaired, 0);
    assert.equal(report.followers.length, 1);
    assert.equal(report.followers[0]!.differingRanges, 0);
    t.diagnostic(`${repaired.length} differing keys repaired in ${repairs().length} pass(es); a later pass compared ${report.followers[0]!.ranges} ranges and found none differing`);
    assert.equal((await nodeView(follower)).replication.follower?.snapshotsInstalled, 0, 'repaired in place, not by a snapshot');
  });
});

function key(i: number): string {
  return `k-${String(i).padStart(4, '0')}`;
}

/** Keys whose values differ between two scans, sorted. */
function diff(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}
