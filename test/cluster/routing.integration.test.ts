/**
 * Real node processes on loopback: keys written through the client land where the ring
 * says; a node asked about another shard's key redirects with 307 and the redirect works;
 * a replica redirects writes and plain reads to its leader.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { parseConfig, percentEncode, Topology } from '../../cluster/index.ts';
import { Client } from '../../net/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';

const KEY_COUNT = 1000;
const encoder = new TextEncoder();
/** A JSON body says so (docs/api.md, "Bodies"). */
const JSON_TYPE = { 'Content-Type': 'application/json' };

describe('a three-shard cluster with one replica per shard', () => {
  let cluster: TestCluster;
  let topology: Topology;
  let client: Client | undefined;
  after(async () => {
    client?.close();
    await cluster?.close();
  });

  before(async () => {
    cluster = await startCluster({ shards: 3, replicas: 1 });
    topology = Topology.fromConfig(parseConfig(await readFile(cluster.configPath, 'utf8'), { source: cluster.configPath }));
    client = await Client.connect([cluster.shards[0]!.replicas[0]!]);
  });

  it('serves the same committed topology from every node, as the config describes', async () => {
    const versions = new Set<number>();
    for (const address of topology.addresses()) {
      const res = await rawRequest(address, 'GET', '/cluster');
      assert.equal(res.status, 200);
      const json = res.json() as ReturnType<typeof topology.toJson>;
      versions.add(json.version);
      assert.deepEqual({ ...json, version: 0 }, topology.toJson(), 'the bootstrap commits cluster.toml\'s shards as they are');
    }
    assert.equal(versions.size, 1, `every node routes by one version, got ${[...versions].join(', ')}`);
    assert.ok([...versions][0]! >= 1, 'a committed version, not the config\'s');
    assert.deepEqual({ ...client!.currentTopology().toJson(), version: 0 }, topology.toJson());
  });

  it('puts 1,000 keys through the client onto the shards the ring names', async () => {
    const keys = Array.from({ length: KEY_COUNT }, (_, i) => `user:${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => client!.put(k, `value of ${k}`)));
    }
    for (let i = 0; i < keys.length; i += 50) {
      const values = await Promise.all(keys.slice(i, i + 50).map((k) => client!.get(k)));
      values.forEach((v, j) => assert.equal(Buffer.from(v!).toString(), `value of ${keys[i + j]}`));
    }
    // Each leader's own data, read with a local scan, holds exactly the keys the ring gives it.
    for (const shard of topology.shards) {
      const expected = keys.filter((k) => topology.shardOf(encoder.encode(k)).name === shard.name);
      assert.ok(expected.length > 100, `${shard.name} should own a fair share of keys, got ${expected.length}`);
      const res = await rawRequest(shard.leader, 'GET', '/kv?limit=10000');
      assert.equal(res.status, 200);
      const page = res.json();
      assert.equal(page.more, false);
      assert.deepEqual(page.entries.map((e: { key: string }) => e.key), expected);
    }
    // And asking each key's leader directly answers 200 without a redirect.
    for (const key of keys.slice(0, 200)) {
      const owner = topology.shardOf(encoder.encode(key));
      const res = await rawRequest(owner.leader, 'GET', `/kv/${percentEncode(encoder.encode(key))}`);
      assert.equal(res.status, 200, key);
      assert.equal(res.headers['x-shard'], owner.name);
    }
  });

  it('merges every shard into one sorted scan through the client', async () => {
    const seen: string[] = [];
    for await (const [key] of client!.scan({ gte: 'user:0100', lt: 'user:0200' })) seen.push(Buffer.from(key).toString());
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => `user:${String(100 + i).padStart(4, '0')}`));
    const limited: string[] = [];
    for await (const [key] of client!.scan({ gt: 'user:0990', limit: 5 })) limited.push(Buffer.from(key).toString());
    assert.deepEqual(limited, ['user:0991', 'user:0992', 'user:0993', 'user:0994', 'user:0995']);
  });

  it('redirects a key of another shard with 307, Location and X-Shard, and the redirect succeeds', async () => {
    const [wrong, right] = [topology.shards[0]!, topology.shards[1]!];
    const key = findKeyOn(topology, right.name, 'redirect-me');
    const path = `/kv/${key}`;
    const res = await rawRequest(wrong.leader, 'PUT', path, { body: 'moved' });
    assert.equal(res.status, 307);
    assert.equal(res.headers['location'], `http://${right.leader}${path}`);
    assert.equal(res.headers['x-shard'], right.name);
    const location = new URL(res.headers['location']!);
    const followed = await rawRequest(location.host, 'PUT', location.pathname, { body: 'moved' });
    assert.equal(followed.status, 204);
    assert.match(String(followed.headers['x-seq']), /^[0-9]+$/);
    const read = await rawRequest(wrong.leader, 'GET', path);
    assert.equal(read.status, 307);
    const got = await rawRequest(new URL(read.headers['location']!).host, 'GET', path);
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'moved');
  });

  it('redirects writes and leader reads on a replica to its leader, and serves read=replica itself', async () => {
    const shard = topology.shards[2]!;
    const replica = shard.replicas[0]!;
    const key = findKeyOn(topology, shard.name, 'replica-test');
    const write = await rawRequest(replica, 'PUT', `/kv/${key}`, { body: 'x' });
    assert.equal(write.status, 307);
    assert.equal(write.headers['location'], `http://${shard.leader}/kv/${key}`);
    const del = await rawRequest(replica, 'DELETE', `/kv/${key}`);
    assert.equal(del.status, 307);
    const read = await rawRequest(replica, 'GET', `/kv/${key}`);
    assert.equal(read.status, 307);
    assert.equal(read.headers['location'], `http://${shard.leader}/kv/${key}`);
    const scan = await rawRequest(replica, 'GET', '/kv?limit=5');
    assert.equal(scan.status, 307);
    // read=replica is answered from the replica's own data: a key never written is not found
    // there, and a scan's page comes from the replica itself (replication fills it).
    const local = await rawRequest(replica, 'GET', `/kv/${key}?read=replica`);
    assert.equal(local.status, 404);
    assert.equal(local.json().code, 'KEY_NOT_FOUND');
    const localScan = await rawRequest(replica, 'GET', '/kv?read=replica&limit=5');
    assert.equal(localScan.status, 200);
    assert.equal(localScan.headers['x-shard'], shard.name);
    // A key of another shard goes to that shard's leader, not this replica's.
    const other = topology.shards[0]!;
    const otherKey = findKeyOn(topology, other.name, 'elsewhere');
    const away = await rawRequest(replica, 'GET', `/kv/${otherKey}?read=replica`);
    assert.equal(away.status, 307);
    assert.equal(away.headers['location'], `http://${other.leader}/kv/${otherKey}?read=replica`);
  });

  it('applies a one-shard batch atomically and redirects a batch wholly of another shard', async () => {
    const shard = topology.shards[1]!;
    const keys = [0, 1, 2].map((i) => findKeyOn(topology, shard.name, `batch-${i}`));
    const seq = await client!.batch([
      { type: 'put', key: keys[0]!, value: 'a' },
      { type: 'put', key: keys[1]!, value: 'b' },
      { type: 'del', key: keys[2]! },
    ]);
    assert.ok(seq > 0);
    assert.equal(Buffer.from((await client!.get(keys[1]!))!).toString(), 'b');
    const body = JSON.stringify({ ops: [{ type: 'put', key: keys[2], value: 'c' }] });
    const headers = { 'Content-Type': 'application/json' };
    const res = await rawRequest(topology.shards[0]!.leader, 'POST', '/batch', { headers, body });
    assert.equal(res.status, 307);
    assert.equal(res.headers['location'], `http://${shard.leader}/batch`);
    assert.equal((await rawRequest(shard.leader, 'POST', '/batch', { headers, body })).status, 204);
  });

  it('answers a batch of gets with every value in request order, null for a missing key, from a leader or a replica', async () => {
    const shard = topology.shards[2]!;
    const [a, b, gone] = [0, 1, 2].map((i) => findKeyOn(topology, shard.name, `mget-${i}`));
    const seq = await client!.batch([{ type: 'put', key: a!, value: 'A' }, { type: 'put', key: b!, value: 'B' }]);
    const body = JSON.stringify({ ops: [b, gone, a, b].map((key) => ({ type: 'get', key })) });
    const atLeader = await rawRequest(shard.leader, 'POST', '/batch', { headers: JSON_TYPE, body });
    assert.equal(atLeader.status, 200, atLeader.body.toString());
    assert.deepEqual(atLeader.json(), { encoding: 'utf8', values: ['B', null, 'A', 'B'] });
    // A replica redirects a leader read, serves read=replica once it has applied min_seq.
    const replica = shard.replicas[0]!;
    assert.equal((await rawRequest(replica, 'POST', '/batch', { headers: JSON_TYPE, body })).status, 307);
    const atReplica = await rawRequest(replica, 'POST', `/batch?read=replica&min_seq=${seq}`, { headers: JSON_TYPE, body });
    assert.equal(atReplica.status, 200, atReplica.body.toString());
    assert.deepEqual(atReplica.json(), { encoding: 'utf8', values: ['B', null, 'A', 'B'] });
    // Through the client, keys of every shard in one call, in order.
    const others = topology.shards.map((s) => Array.from({ length: KEY_COUNT }, (_, i) => `user:${String(i).padStart(4, '0')}`).find((k) => topology.shardOf(encoder.encode(k)).name === s.name)!);
    const values = await client!.getMany([a!, ...others, gone!, b!]);
    assert.deepEqual(values.map((v) => (v === undefined ? undefined : Buffer.from(v).toString())), ['A', ...others.map((k) => `value of ${k}`), undefined, 'B']);
  });

  it('refuses a batch mixing gets and writes, a get batch with acks=, and a write batch with read=, naming what is wrong', async () => {
    const leader = topology.shards[0]!.leader;
    const key = findKeyOn(topology, topology.shards[0]!.name, 'mix');
    const mixed = await rawRequest(leader, 'POST', '/batch', { headers: JSON_TYPE, body: JSON.stringify({ ops: [{ type: 'get', key }, { type: 'del', key }] }) });
    assert.equal(mixed.status, 400);
    assert.equal(mixed.json().code, 'BAD_BATCH');
    assert.match(mixed.json().message, /ops\[1\] is a "del" in a batch of gets/);
    const gets = await rawRequest(leader, 'POST', '/batch?acks=all', { headers: JSON_TYPE, body: JSON.stringify({ ops: [{ type: 'get', key }] }) });
    assert.equal(gets.status, 400);
    assert.equal(gets.json().code, 'BAD_QUERY');
    assert.match(gets.json().message, /acks= and sync= apply to a batch of writes/);
    const writes = await rawRequest(leader, 'POST', '/batch?read=replica', { headers: JSON_TYPE, body: JSON.stringify({ ops: [{ type: 'del', key }] }) });
    assert.equal(writes.status, 400);
    assert.equal(writes.json().code, 'BAD_QUERY');
    assert.match(writes.json().message, /read= and min_seq= apply to a batch of gets/);
  });
});

/** A printable key owned by `shard`, found by trying suffixes in order. */
function findKeyOn(topology: Topology, shard: string, prefix: string): string {
  for (let i = 0; i < 10_000; i++) {
    const key = `${prefix}-${i}`;
    if (topology.shardOf(encoder.encode(key)).name === shard) return key;
  }
  throw new Error(`no key with prefix ${prefix} on ${shard}`);
}
