/**
 * Live resharding with real processes (docs/resharding.md): a shard added to a loaded cluster,
 * then removed again. Through both, a client's reads and acks=all writes see no error and no
 * wrong value, every key stays readable, and afterwards each key is in exactly its owner's
 * engines (leader and replica), nowhere else: nothing lost, duplicated or stranded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Topology, type TopologyJson } from '../../cluster/index.ts';
import { Client } from '../../net/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { engineKeys } from '../helpers/engine-keys.ts';
import { freePorts } from '../helpers/free-ports.ts';
import { rawRequest } from '../helpers/http.ts';
import { startOwnedKeyLoad } from '../helpers/owned-key-load.ts';

const SEEDED_KEYS = 3000;
const MIGRATION_WAIT_MS = 90_000;
const encoder = new TextEncoder();

describe('adding and removing a shard under load', () => {
  let cluster: TestCluster;
  let client: Client;
  let spares: string[];
  const seeded = new Map<string, string>();

  before(async () => {
    cluster = await startCluster({ shards: 2, replicas: 1, controllers: 1 });
    client = await Client.connect([cluster.shards[0]!.leader]);
    for (let i = 0; i < SEEDED_KEYS; i++) seeded.set(`seed:${i}`, `v${i}`);
    const entries = [...seeded];
    for (let i = 0; i < entries.length; i += 200) await Promise.all(entries.slice(i, i + 200).map(([k, v]) => client.put(k, v)));
    spares = (await freePorts(2)).map((p) => `127.0.0.1:${p}`);
    await Promise.all(spares.map((a) => cluster.start(a)));
  });
  after(async () => {
    client?.close();
    await cluster?.close();
  });

  it('starts spare nodes as unassigned members', async () => {
    for (const spare of spares) {
      const health = (await rawRequest(spare, 'GET', '/healthz')).json();
      assert.equal(health.role, 'unassigned');
      assert.equal(health.ready, true);
    }
    const meta = await internalMeta(cluster.controllers[0]!);
    for (const spare of spares) assert.ok(meta.unassigned.includes(spare), `${spare} is listed as unassigned: ${meta.unassigned.join(', ')}`);
  });

  it('adds a shard while reads and acks=all writes go on, and they see no error and no wrong value', async () => {
    const load = startOwnedKeyLoad({ client, workers: 8, keysPerWorker: 50, writeFraction: 0.3, opsMax: 200_000, durationMsMax: 120_000, prefix: 'load' });
    await delay(500);
    const planned = await client.admin('/admin/shard/add', { name: 'shard-new', members: spares }) as { migration: { moves: unknown[] } };
    assert.equal(planned.migration.moves.length, 2, 'one move from each shard on the ring');
    const json = await waitMigrationOver(cluster.shards[0]!.leader, 3);
    await delay(500);
    await load.stop();
    assert.deepEqual(json.ring.shards ?? json.shards.map((s) => s.name), ['shard-0', 'shard-1', 'shard-new']);
    assert.deepEqual(load.wrong, [], 'every read returned the last acknowledged write');
    assert.deepEqual(Object.fromEntries(load.errors), {}, 'the client saw no error');
    assert.ok(load.acknowledged.size > 0 && load.ops() > load.acknowledged.size, `the load wrote and read (${load.ops()} operations, ${load.acknowledged.size} keys written)`);
    await checkAllReadable(client, seeded, load.acknowledged);
    const topology = Topology.fromJson(json);
    const owned = [...seeded.keys()].filter((k) => topology.shardOf(encoder.encode(k)).name === 'shard-new').length;
    assert.ok(owned > SEEDED_KEYS / 3 / 1.5 && owned < (SEEDED_KEYS / 3) * 1.5, `the new shard owns about a third of the keys, got ${owned}`);
    for (const [key, value] of load.acknowledged) seeded.set(key, value);
  });

  it('redirects a request for a moved key from the shard that gave it away to its new owner', async () => {
    const topology = Topology.fromJson(await clusterJson(cluster.shards[0]!.leader));
    const key = [...seeded.keys()].find((k) => topology.shardOf(encoder.encode(k)).name === 'shard-new')!;
    // Which old shard had it: the one whose ring of two owned it.
    const old = Topology.of(0, topology.shards, topology.vnodes, ['shard-0', 'shard-1']).shardOf(encoder.encode(key)).name;
    const giver = cluster.shards.find((s) => s.name === old)!.leader;
    const res = await rawRequest(giver, 'GET', `/kv/${encodeURIComponent(key)}`);
    assert.equal(res.status, 307, 'no migration under way: an ordinary redirect to the owner');
    assert.equal(res.headers['x-shard'], 'shard-new');
  });

  it('removes the shard again under load, with the same checks', async () => {
    const load = startOwnedKeyLoad({ client, workers: 8, keysPerWorker: 50, writeFraction: 0.3, opsMax: 200_000, durationMsMax: 120_000, prefix: 'load2' });
    await delay(500);
    await client.admin('/admin/shard/remove', { name: 'shard-new' });
    const json = await waitMigrationOver(cluster.shards[0]!.leader, 2);
    await delay(500);
    await load.stop();
    assert.deepEqual(json.shards.map((s) => s.name), ['shard-0', 'shard-1']);
    assert.deepEqual(load.wrong, []);
    assert.deepEqual(Object.fromEntries(load.errors), {});
    for (const [key, value] of load.acknowledged) seeded.set(key, value);
    await checkAllReadable(client, seeded, new Map());
    const meta = await internalMeta(cluster.controllers[0]!);
    for (const spare of spares) assert.ok(meta.unassigned.includes(spare), `the removed shard's ${spare} is unassigned again: ${meta.unassigned.join(', ')}`);
  });

  it('leaves each key in exactly its owner\'s engines, and the removed shard\'s nodes empty', async () => {
    const topology = Topology.fromJson(await clusterJson(cluster.shards[0]!.leader));
    // The removed shard's nodes empty their engines once they are unassigned.
    for (const spare of spares) await waitFor(async () => (await rawRequest(spare, 'GET', '/healthz')).json().role === 'unassigned', `${spare} to be unassigned`);
    await Promise.all([...cluster.nodes.values()].map((n) => n.stop()));
    for (const spare of spares) assert.equal((await engineKeys(cluster.dataDir(spare))).size, 0, `${spare} holds no key`);
    for (const shard of cluster.shards) {
      for (const node of [shard.leader, ...shard.replicas]) {
        const keys = await engineKeys(cluster.dataDir(node));
        const strays = [...keys.keys()].filter((k) => topology.shardOf(Buffer.from(k, 'latin1')).name !== shard.name);
        assert.deepEqual(strays.slice(0, 5), [], `${node} (${shard.name}) holds no key of another shard (${strays.length} strays)`);
        const missing = [...seeded].filter(([k, v]) => topology.shardOf(encoder.encode(k)).name === shard.name && keys.get(k) !== v);
        assert.deepEqual(missing.slice(0, 5), [], `${node} holds each of ${shard.name}'s keys with its last value (${missing.length} missing or stale)`);
      }
    }
  });
});

async function clusterJson(address: string): Promise<TopologyJson> {
  const res = await rawRequest(address, 'GET', '/cluster');
  assert.equal(res.status, 200);
  return res.json() as TopologyJson;
}

async function internalMeta(controller: string): Promise<{ unassigned: string[] }> {
  return (await rawRequest(controller, 'GET', '/internal/meta')).json();
}

/** Polls /cluster until no migration is under way and `shards` shards are on the ring. */
async function waitMigrationOver(address: string, shards: number): Promise<TopologyJson> {
  let last: TopologyJson | undefined;
  await waitFor(async () => {
    last = await clusterJson(address);
    return !last.migration && (last.ring.shards ?? last.shards.map((s) => s.name)).length === shards && last.shards.length === shards;
  }, `the migration to end with ${shards} shards`, () => JSON.stringify(last?.migration ?? last?.shards));
  return last!;
}

async function waitFor(check: () => Promise<boolean>, what: string, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + MIGRATION_WAIT_MS;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(100);
  }
  throw new Error(`timed out waiting for ${what}: ${detail()}`);
}

async function checkAllReadable(client: Client, seeded: Map<string, string>, written: Map<string, string>): Promise<void> {
  const expected = new Map([...seeded, ...written]);
  const entries = [...expected];
  for (let i = 0; i < entries.length; i += 200) {
    const slice = entries.slice(i, i + 200);
    const values = await Promise.all(slice.map(([k]) => client.get(k)));
    slice.forEach(([k, v], j) => assert.equal(values[j] && Buffer.from(values[j]!).toString(), v, `key ${k}`));
  }
}
