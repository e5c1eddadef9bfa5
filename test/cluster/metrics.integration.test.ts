/**
 * GET /metrics on real node processes: after some traffic through the client, a leader and
 * its replica answer valid Prometheus text with the request, engine and replication figures;
 * with a token set, /metrics demands it like the admin routes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '../../net/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';
import { waitFor } from '../replication/nodes.ts';
import { find, parseExposition, type Exposition } from './prometheus-text.ts';

const TOKEN = 'metrics-token-abcdefghijklmnop';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const WRITES = 200;

async function scrape(address: string): Promise<Exposition> {
  const res = await rawRequest(address, 'GET', '/metrics', { headers: AUTH });
  assert.equal(res.status, 200, res.body.toString());
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body.toString('utf8'));
}

/** Scrapes until `done` holds, at most 50 times (the replica applies asynchronously). */
async function scrapeUntil(address: string, done: (e: Exposition) => boolean): Promise<Exposition> {
  let last = await scrape(address);
  for (let i = 0; i < 50 && !done(last); i++) {
    await delay(100);
    last = await scrape(address);
  }
  return last;
}

describe('GET /metrics on a shard with a leader and a replica', () => {
  let cluster: TestCluster | undefined;
  after(() => cluster?.close());
  before(async () => {
    cluster = await startCluster({ shards: 1, replicas: 1, clusterToml: `token = "${TOKEN}"` });
    // acks=all needs the replica in sync: a node being healthy does not mean it has connected.
    const leader = cluster.shards[0]!.leader;
    await waitFor(`the replica in sync with ${leader}`, async () => {
      const res = await rawRequest(leader, 'GET', '/internal/state', { headers: AUTH });
      const followers = (res.json() as { replication: { leader?: { followers: Array<{ inSync: boolean }> } } }).replication.leader?.followers ?? [];
      return followers.some((f) => f.inSync);
    });
    const client = await Client.connect([leader], { token: TOKEN });
    try {
      for (let i = 0; i < WRITES; i++) await client.put(`key-${i}`, `value-${i}`, { acks: i % 2 === 0 ? 1 : 'all' });
      for (let i = 0; i < 50; i++) await client.get(`key-${i}`);
      assert.equal(await client.get('no-such-key'), undefined);
      for (let i = 0; i < 10; i++) await client.get(`key-${i}`, { readFrom: 'replica' });
    } finally {
      client.close();
    }
  });

  it('needs the token when one is set, like /internal/ and /admin/ routes', async () => {
    const denied = await rawRequest(cluster!.shards[0]!.leader, 'GET', '/metrics');
    assert.equal(denied.status, 401);
    assert.equal(denied.json().code, 'UNAUTHORIZED');
  });

  it('answers a leader\'s requests by route template and status, with the engine and replication figures', async () => {
    const { leader, replicas } = cluster!.shards[0]!;
    const text = await scrapeUntil(leader, (e) => find(e, 'distribkv_replication_unreplicated_ops')[0]?.value === 0);
    const count = (labels: Record<string, string>) => find(text, 'distribkv_http_request_duration_seconds_count', labels).reduce((sum, s) => sum + s.value, 0);
    assert.equal(count({ method: 'PUT', route: '/kv/{key}', status: '204' }), WRITES);
    assert.equal(count({ method: 'GET', route: '/kv/{key}', status: '200' }), 50);
    assert.equal(count({ method: 'GET', route: '/kv/{key}', status: '404' }), 1);
    assert.ok(count({ method: 'GET', route: '/internal/replication/stream' }) + count({ method: 'POST', route: '/internal/replication/ack' }) > 0, 'replication traffic is counted too');
    const routes = new Set(find(text, 'distribkv_http_request_duration_seconds_count').map((s) => s.labels.route));
    assert.ok(![...routes].some((r) => r?.includes('key-')), `routes are templates, never raw paths: ${[...routes].join(', ')}`);

    for (const name of ['distribkv_engine_level_files', 'distribkv_engine_level_bytes', 'distribkv_engine_write_amplification', 'distribkv_engine_stall_seconds_total', 'distribkv_engine_block_cache_hit_ratio', 'distribkv_shard_term', 'distribkv_metadata_version', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(find(text, name).length > 0, `${name} is exported`);
    }
    assert.ok(find(text, 'distribkv_engine_last_sequence')[0]!.value >= WRITES);
    assert.equal(find(text, 'distribkv_shard_term')[0]!.value, 1);
    assert.equal(find(text, 'distribkv_leader_lease_valid')[0]!.value, 1);
    assert.equal(find(text, 'distribkv_node_info', { node: leader })[0]!.labels.role, 'leader');
    const follower = { follower: replicas[0]! };
    assert.equal(find(text, 'distribkv_replication_follower_connected', follower)[0]!.value, 1);
    assert.equal(find(text, 'distribkv_replication_follower_lag_sequence_numbers', follower)[0]!.value, 0);
    assert.equal(find(text, 'distribkv_replication_follower_lag_milliseconds', follower)[0]!.value, 0);
    assert.equal(find(text, 'distribkv_replication_unreplicated_ops')[0]!.value, 0);
  });

  it('answers a replica\'s position in its leader\'s log and its replica reads', async () => {
    const { leader, replicas } = cluster!.shards[0]!;
    const text = await scrapeUntil(replicas[0]!, (e) => (find(e, 'distribkv_replication_applied_sequence')[0]?.value ?? 0) >= WRITES);
    assert.equal(find(text, 'distribkv_node_info')[0]!.labels.role, 'replica');
    assert.ok(find(text, 'distribkv_replication_applied_sequence', { leader })[0]!.value >= WRITES);
    assert.ok(find(text, 'distribkv_replication_leader_sequence', { leader })[0]!.value >= WRITES);
    const replicaReads = find(text, 'distribkv_http_request_duration_seconds_count', { method: 'GET', route: '/kv/{key}', status: '200' });
    assert.equal(replicaReads.reduce((sum, s) => sum + s.value, 0), 10);
  });
});
