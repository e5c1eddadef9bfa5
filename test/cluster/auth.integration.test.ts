/**
 * Credentials, on real nodes: with `auth = "all"` every route but /healthz demands the token;
 * /internal/ routes take only the nodes' own credential (internal_token), which clients never
 * hold; the client carries its token, also across a redirect; nodes listen on loopback only by
 * default, and refuse any other address without credentials (protected mode).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { percentEncode } from '../../cluster/index.ts';
import { Client, ClientError, HttpTransport, type Transport, type TransportRequest } from '../../net/index.ts';
import { NodeProcess, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { freePorts } from '../helpers/free-ports.ts';
import path from 'node:path';
import { rawRequest } from '../helpers/http.ts';

const TOKEN = 'env-token-abcdefghijklmnop';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const INTERNAL_TOKEN = 'env-internal-token-qrstuvwxyz';
const INTERNAL = { Authorization: `Bearer ${INTERNAL_TOKEN}` };

describe('a cluster whose token comes from DISTRIBKV_TOKEN with auth = "all"', () => {
  let cluster: TestCluster | undefined;
  after(() => cluster?.close());
  before(async () => {
    cluster = await startCluster({ shards: 2, clusterToml: 'auth = "all"', env: { DISTRIBKV_TOKEN: TOKEN, DISTRIBKV_INTERNAL_TOKEN: INTERNAL_TOKEN } });
  });

  it('opens /internal/ routes to the nodes\' credential only, never to the clients\' token', async () => {
    const node = cluster!.shards[0]!.leader;
    for (const [method, path] of [['GET', '/internal/meta'], ['POST', '/internal/control/propose'], ['GET', '/internal/replication/stream?node=127.0.0.1:1&from=1&term=1&data_term=1'], ['POST', '/internal/raft']] as const) {
      const res = await rawRequest(node, method, path, { headers: AUTH });
      assert.equal(res.status, 401, `${method} ${path} with the client token`);
      assert.match(res.json().message, /internal token/);
    }
    assert.equal((await rawRequest(node, 'GET', '/internal/meta', { headers: INTERNAL })).status, 200, 'the internal credential opens them');
    // Diagnostics and operator routes take either: the operator's token or a node's credential.
    assert.equal((await rawRequest(node, 'GET', '/internal/state', { headers: INTERNAL })).status, 200);
    assert.equal((await rawRequest(node, 'GET', '/metrics', { headers: INTERNAL })).status, 200);
    // The internal credential is not a client token: data routes under "all" want the token.
    assert.equal((await rawRequest(node, 'GET', '/kv?limit=1', { headers: INTERNAL })).status, 401);
  });

  it('answers 401 without the token and 200 with it, on data, topology, dashboard data and internal routes', async () => {
    const node = cluster!.shards[0]!.leader;
    for (const path of ['/cluster', '/kv?limit=1', '/internal/state', '/admin/overview', '/admin/events']) {
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
    assert.equal((await rawRequest(node, 'GET', '/')).status, 200, 'the dashboard page holds no data; what it shows comes from /admin/overview');
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
      // Once to connect, then again after the redirect (a refresh asks several nodes at once and keeps the newest).
      const fetches = seen.filter((r) => r.path === '/cluster');
      assert.ok(fetches.length >= 2, `the topology was fetched again after the redirect (${fetches.length} fetches)`);
      assert.ok(fetches.every((r) => r.headers['Authorization'] === AUTH.Authorization), 'every topology fetch carries the token');
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


describe('protected mode', () => {
  it('refuses to listen beyond loopback without credentials, in one line naming the fix', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-protected-'));
    try {
      const [port] = await freePorts(1);
      const address = `127.0.0.1:${port}`;
      const config = path.join(dir, 'cluster.toml');
      await writeFile(config, `[[shards]]\nname = "s0"\nleader = "${address}"\nreplicas = []\n`);
      const node = NodeProcess.spawn(config, address, path.join(dir, 'data'), {}, ['--bind', '0.0.0.0']);
      const exit = await node.exited();
      assert.equal(exit.code, 2, node.stderr);
      const lines = node.stderr.trim().split('\n');
      assert.equal(lines.length, 1, node.stderr);
      assert.match(lines[0]!, /refusing to listen on 0\.0\.0\.0 without credentials \(protected mode\): set cluster\.token and cluster\.internal_token/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
