/**
 * Replica reads on real node processes. A client reading from replicas with `min_seq` (the
 * sequence number of its own last write on the shard) never sees a value older than that
 * write, even while another client keeps the replicas busy; a replica that has not applied
 * `min_seq` within `replica_read_wait_ms_max` sends the reader to the leader; and a replica
 * answers `read=replica` from its own data, which is the leader's once it has caught up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_STEADY, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { nodeView, waitInSync } from './nodes.ts';
import { startWriteLoad } from './write-load.ts';

const REPLICATION = ['replica_read_wait_ms_max = 300', 'heartbeat_interval_ms = 100'].join('\n');
const ROUNDS = 400;
const KEYS = 16;

describe('reads from replicas', () => {
  let cluster: TestCluster | undefined;
  const clients: Client[] = [];
  let leader = '';
  after(async () => {
    for (const c of clients) c.close();
    await cluster?.close();
  });

  before(async () => {
    cluster = await startCluster({ shards: 1, replicas: 2, controlToml: CONTROL_TOML_STEADY, replicationToml: REPLICATION });
    leader = cluster.shards[0]!.leader;
    await waitInSync(leader, 2);
  });

  it('never return a value older than the reader\'s own last write', async (t) => {
    const reader = await Client.connect([leader], { readFrom: 'replica' });
    const busy = await Client.connect([leader]);
    clients.push(reader, busy);
    // Another client's writes keep the replicas applying while the reader checks.
    const background = startWriteLoad({ client: busy, workers: 4, writesMax: 20_000, durationMsMax: 30_000, acks: 1, prefix: 'busy' });
    const appliedBefore = await batchesApplied();
    const replicas = cluster!.shards[0]!.replicas;
    let stale = 0;
    let staleWithoutMinSeq = 0;
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const key = `mine-${i % KEYS}`;
        const value = `round-${i}`;
        const seq = await reader.put(key, value);
        assert.equal(reader.lastSequence('shard-0'), seq);
        // The same read without min_seq, for comparison: how often a replica had not caught up.
        const unguarded = rawRequest(replicas[i % replicas.length]!, 'GET', `/kv/${key}?read=replica`);
        const read = await reader.get(key);
        if (Buffer.from(read ?? []).toString() !== value) stale++;
        if ((await unguarded).body.toString() !== value) staleWithoutMinSeq++;
      }
    } finally {
      await background.stop();
    }
    const applied = (await batchesApplied()) - appliedBefore;
    const busyWrites = background.acknowledged();
    t.diagnostic(`${ROUNDS} write-then-read rounds from replicas: ${stale} stale with min_seq, ${staleWithoutMinSeq} stale without; meanwhile ${busyWrites} writes by another client, ${applied} batches applied by the replicas`);
    assert.equal(stale, 0);
  });

  it('send a reader to the leader when the replica has not applied min_seq in time', async () => {
    const replica = cluster!.shards[0]!.replicas[0]!;
    const put = await rawRequest(leader, 'PUT', '/kv/far-ahead', { body: 'v' });
    const ahead = Number(put.headers['x-seq']) + 1_000_000;
    const res = await rawRequest(replica, 'GET', `/kv/far-ahead?read=replica&min_seq=${ahead}`);
    assert.equal(res.status, 307);
    assert.equal(res.headers['location'], `http://${leader}/kv/far-ahead?read=replica&min_seq=${ahead}`);
    const onLeader = await rawRequest(leader, 'GET', `/kv/far-ahead?read=replica&min_seq=${ahead}`);
    assert.equal(onLeader.status, 200, 'the leader has every acknowledged write, so it serves whatever min_seq says');
  });

  it('answer read=replica from the replica\'s own data, scans included', async () => {
    const replica = cluster!.shards[0]!.replicas[1]!;
    const put = await rawRequest(leader, 'PUT', '/kv/only-here?acks=all', { body: 'replicated' });
    assert.equal(put.status, 204);
    const seq = put.headers['x-seq'];
    const res = await rawRequest(replica, 'GET', `/kv/only-here?read=replica&min_seq=${seq}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'replicated');
    const scan = await rawRequest(replica, 'GET', `/kv?read=replica&gte=only-&lt=only.&min_seq=${seq}`);
    assert.equal(scan.status, 200);
    assert.deepEqual(scan.json().entries, [{ key: 'only-here', value: 'replicated' }]);
    assert.equal((await rawRequest(replica, 'GET', '/kv/only-here')).status, 307, 'without read=replica a replica sends reads to its leader');
  });

  async function batchesApplied(): Promise<number> {
    const views = await Promise.all(cluster!.shards[0]!.replicas.map(nodeView));
    return views.reduce((sum, v) => sum + (v.replication.follower?.batchesApplied ?? 0), 0);
  }
});
