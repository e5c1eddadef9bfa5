/**
 * The token, on real nodes: with `auth = "all"` every route but /healthz demands it; the
 * client carries it, also across a redirect; and nodes listen on loopback only by default.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { percentEncode } from '../../cluster/index.ts';
import { Client, ClientError, HttpTransport, type Transport, type TransportRequest } from '../../net/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';

const TOKEN = 'env-token-abcdefghijklmnop';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

describe('a cluster whose token comes from DISTRIBKV_TOKEN with auth = "all"', () => {
  let cluster: TestCluster | undefined;
  after(() => cluster?.close());
  before(async () => {
    cluster = await startCluster({ shards: 2, clusterToml: 'auth = "all"', env: { DISTRIBKV_TOKEN: TOKEN } });
  });

  it('answers 401 without the token and 200 with it, on data, topology and internal routes', async () => {
    const node = cluster!.shards[0]!.leader;
    for (const path of ['/cluster', '/kv?limit=1', '/internal/state']) {
      const denied = await rawRequest(node, 'GET', path);
      assert.equal(denied.status, 401, path);
      assert.equal(denied.json().code, 'UNAUTHORIZED');
      assert.equal(denied.headers['www-authenticate'], 'Bearer realm="distribkv"');
      assert.equal((await rawRequest(node, 'GET', path, { headers: { Authorization: `Bearer ${TOKEN}x` } })).status, 401, path);
      assert.equal((await rawRequest(node, 'GET', path, { headers: { Authorization: `Basic ${TOKEN}` } })).status, 401, path);
      assert.equal((await rawRequest(node, 'GET', path, { headers: AUTH })).status, 200, path);
    }
    assert.equal((await rawRequest(node, 'PUT', '/kv/some-key', { body: 'x' })).status, 401);
    assert.equal((await rawRequest(node, 'GET', '/healthz')).status, 200, 'health stays open for probes');
  });

  it('refuses a client without the token and serves one with it', async () => {
    const seed = cluster!.shards[0]!.leader;
    await assert.rejects(Client.connect([seed]), (error: ClientError) => error.code === 'UNAUTHORIZED' && error.status === 401);
    const client = await Client.connect([seed], { token: TOKEN });
    try {
      for (let i = 0; i < 20; i++) await client.put(`k${i}`, `v${i}`);
      for (let i = 0; i < 20; i++) assert.equal(Buffer.from((await client.get(`k${i}`))!).toString(), `v${i}`);
    } finally {
      client.close();
    }
  });

  it('keeps the token when following a redirect, then refreshes its topology', async () => {
    const seen: TransportRequest[] = [];
    const transport = staleOnce(new HttpTransport({ requestTimeoutMs: 10_000, responseBytesMax: 1 << 20, socketsPerNodeMax: 4 }), seen);
    const client = await Client.connect([cluster!.shards[0]!.leader], { token: TOKEN, transport });
    try {
      const stale = client.currentTopology();
      const key = 'follow-me';
      const staleLeader = stale.shardOf(new TextEncoder().encode(key)).leader;
      await client.put(key, 'followed');
      const real = client.currentTopology();
      assert.notEqual(real.shardOf(new TextEncoder().encode(key)).leader, staleLeader, 'the first topology was stale for this key');
      const puts = seen.filter((r) => r.method === 'PUT');
      assert.equal(puts.length, 2, 'one PUT to the stale leader, one to the real one');
      assert.ok(puts.every((r) => r.headers['Authorization'] === AUTH.Authorization));
      assert.equal(seen.filter((r) => r.path === '/cluster').length, 2, 'the topology was fetched again after the redirect');
      const res = await rawRequest(real.shardOf(new TextEncoder().encode(key)).leader, 'GET', `/kv/${percentEncode(new TextEncoder().encode(key))}`, { headers: AUTH });
      assert.equal(res.body.toString(), 'followed');
    } finally {
      client.close();
    }
  });

  it('listens on 127.0.0.1 only', async () => {
    const node = cluster!.shards[1]!.leader;
    const state = await rawRequest(node, 'GET', '/internal/state', { headers: AUTH });
    assert.equal(state.json().listening, node);
    const port = Number(node.split(':')[1]);
    const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) return; // No non-loopback interface here; the bound address above still shows loopback.
    await assert.rejects(connect(external.address, port), (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED');
  });
});

/** A transport whose first /cluster answer has the shards' leaders rotated, as a stale topology would. */
function staleOnce(inner: Transport, seen: TransportRequest[]): Transport {
  let served = false;
  return {
    async request(address, request) {
      seen.push(request);
      const res = await inner.request(address, request);
      if (request.path !== '/cluster' || served) return res;
      served = true;
      const json = JSON.parse(Buffer.from(res.body).toString());
      const leaders = json.shards.map((s: { leader: string }) => s.leader);
      json.shards.forEach((s: { leader: string }, i: number) => (s.leader = leaders[(i + 1) % leaders.length]));
      return { ...res, body: new TextEncoder().encode(JSON.stringify(json)) };
    },
    stream: (address, request) => inner.stream(address, request),
    close: () => inner.close(),
  };
}

function connect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

