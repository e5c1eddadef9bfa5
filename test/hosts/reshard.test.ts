/**
 * Resharding across hosts under the nemesis (issue 18, point 3; docs/resharding.md): two shards
 * of a leader and REPLICAS replicas each, every node in its own network namespace behind its
 * host's relay, bound to its host's address with a token (auth = "all"), the control plane on
 * the first three shard nodes (the config's default), and 1 + REPLICAS spare hosts whose nodes
 * start unassigned; the tests' longer Raft election timeout and shard lease
 * (`CONTROL_TOML_FAILOVER`), since a starved machine otherwise fails leaders over on its own. A bulk of keys is written first, so a migration has something to copy. Then
 * a Workload (workload.ts: acks=all writes and leader reads of a bounded key set, through the
 * routing client and the relays) runs throughout, while each round:
 *
 *   1. adds a third shard of the spares (POST /admin/shard/add through `Client.admin`); the
 *      moment the command is accepted, kill -9 of the receiving shard's leader (its first
 *      member) and, while the migration waits for that shard to fail over, a giving shard's
 *      leader cut off from every other host; both shards must fail over and the load get
 *      through; then the cut is healed and the killed node restarted, and the migration must
 *      end (the committed metadata and GET /cluster on every shard leader show none);
 *   2. removes that shard again (POST /admin/shard/remove), the same way round: kill -9 of the
 *      giving shard's leader (the removed shard's), then a receiving shard's leader cut off.
 *
 * Each fault is checked to land while the migration is under way (the committed metadata
 * still shows it, with a move not done), so a fault that came too late fails the test.
 *
 * Checked at the end, over the one history: no acknowledged acks=all write lost, every key's
 * history linearizable, never two nodes acknowledging for one shard at one term; every key
 * (workload and bulk) readable straight from its owner's leader (an answer, not a redirect),
 * with its last value; and, with every node stopped, each key in exactly its owner shard's
 * engines (test/helpers/engine-keys.ts), the removed shards' nodes empty. A last test closes
 * the cluster and checks that `ip netns list` and `ip link` are as before (leftovers.ts).
 *
 * Knobs: HOSTS_ROUNDS (add-and-remove rounds; default 1), HOSTS_SEED, HOSTS_RESHARD_REPLICAS
 * (replicas per shard; default 2: 2 × 3 nodes and 3 spares, 18
 * processes with the relays; not 1: with `min_insync = 1` a shard of two refuses acks=all
 * writes while one is down, so the load could not get through a fault), HOSTS_RESHARD_BULK (bulk keys;
 * default 3,000), HOSTS_PHASE_ACKS (writes acknowledged between steps; default 30).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { percentEncode, Topology, type Metadata, type TopologyJson } from '../../cluster/index.ts';
import { HttpTransport, type Client } from '../../net/index.ts';
import { errorCode } from '../../net/response.ts';
import { CONTROL_TOML_FAILOVER } from '../helpers/cluster-harness.ts';
import { engineKeys } from '../helpers/engine-keys.ts';
import { waitFor } from '../replication/nodes.ts';
import { hostsUnavailable } from './capability.ts';
import { HostCluster } from './host-cluster.ts';
import { hostLeftovers, type Leftovers } from './leftovers.ts';
import { Nemesis } from './nemesis.ts';
import { Workload, type Connect } from './workload.ts';

const skip = await hostsUnavailable();
const ROUNDS = Number(process.env['HOSTS_ROUNDS'] ?? 1);
const SEED = Number(process.env['HOSTS_SEED'] ?? 1);
const REPLICAS = Number(process.env['HOSTS_RESHARD_REPLICAS'] ?? 2);
const BULK_KEYS = Number(process.env['HOSTS_RESHARD_BULK'] ?? 3_000);
const PHASE_ACKS = Number(process.env['HOSTS_PHASE_ACKS'] ?? 30);
const WORKERS = 4;
const LOAD_KEYS = 24;
const REQUEST_TIMEOUT_MS = 4_000;
/** A write refused during a cutover or a failover is tried again, as a new operation, this long. */
const WRITE_RETRY_MS = 15_000;
const REPLICATION = ['min_insync = 1', 'replica_lag_max_ms = 1000', 'ack_timeout_ms = 3000', 'heartbeat_interval_ms = 100'].join('\n');
const BULK_VALUE_BYTES = 200;
const BULK_BATCH_OPS = 200;
/** Bound on a migration ending once its faults are undone, and on a failover under them. */
const MIGRATION_WAIT_MS = 180_000;
const FAILOVER_WAIT_MS = 90_000;
const DIRECT_READS_AT_ONCE = 32;
const READ_REFUSED_WAIT_MS = 30_000;
const READ_REFUSED_DELAY_MS = 100;
const encoder = new TextEncoder();

let cluster: HostCluster | undefined;
let probe: Client | undefined;
let leftoversBefore: Leftovers | undefined;
/** How long the start took: the hosts and nodes, then the bulk. */
const startMs = { cluster: 0, bulk: 0 };
const bulk = new Map<string, string>();

before(async () => {
  if (skip) return;
  leftoversBefore = await hostLeftovers();
  const began = Date.now();
  cluster = await HostCluster.start({ shards: 2, replicas: REPLICAS, spares: 1 + REPLICAS, relays: true, replicationToml: REPLICATION, controlToml: CONTROL_TOML_FAILOVER, seed: SEED });
  probe = await cluster.connect({ requestTimeoutMs: 10_000 });
  await cluster.waitAllInSync(probe);
  const meta = await cluster.metadata();
  for (const spare of cluster.spareHosts) assert.ok(meta.unassigned.includes(cluster.addressOf(spare)), `spare ${spare} joined as unassigned: ${meta.unassigned.join(', ')}`);
  startMs.cluster = Date.now() - began;
  await writeBulk(probe);
  startMs.bulk = Date.now() - began - startMs.cluster;
});

after(async () => {
  probe?.close();
  await cluster?.close();
});

/** BULK_KEYS keys in batches, one shard's keys per batch, acks=all. */
async function writeBulk(client: Client): Promise<void> {
  const pad = 'x'.repeat(BULK_VALUE_BYTES);
  for (let i = 0; i < BULK_KEYS; i++) bulk.set(`bulk:${String(i).padStart(6, '0')}`, `b${i}-${pad}`);
  const topology = Topology.fromJson(await clusterJson(client, cluster!.addressOf(cluster!.hostNames[0]!)));
  const byShard = new Map<string, [string, string][]>();
  for (const entry of bulk) {
    const shard = topology.shardOf(encoder.encode(entry[0])).name;
    byShard.set(shard, [...(byShard.get(shard) ?? []), entry]);
  }
  await Promise.all([...byShard.values()].map(async (entries) => {
    for (let i = 0; i < entries.length; i += BULK_BATCH_OPS) {
      await client.batch(entries.slice(i, i + BULK_BATCH_OPS).map(([key, value]) => ({ type: 'put' as const, key, value })), { acks: 'all' });
    }
  }));
}

async function clusterJson(client: Client, address: string): Promise<TopologyJson> {
  const res = await client.send({ method: 'GET', path: '/cluster', target: () => address }, true);
  if (res.status !== 200) throw new Error(`GET /cluster on ${address}: ${res.status} ${Buffer.from(res.body).toString()}`);
  return JSON.parse(Buffer.from(res.body).toString()) as TopologyJson;
}

/** The migration in the committed metadata is `id` and has a move not done: a fault applied now acts on it. */
function assertUnderWay(meta: Metadata, id: number, fault: string): string {
  const m = meta.migration;
  assert.ok(m && m.id === id && m.moves.some((mv) => mv.state !== 'done'), `${fault} came after the migration ${id} had done its moves: ${JSON.stringify(m)}`);
  return m.moves.map((mv) => `${mv.giver}->${mv.receiver} ${mv.state}`).join(', ');
}

/** The control plane elected another leader for `shard`, at a term above `term`. */
function failedOver(shard: string, host: string, term: number): Promise<void> {
  return waitFor(`${shard} led by a node other than ${host}, at a term above ${term}`, async () => {
    const meta = await cluster!.shardMeta(shard);
    return meta.term > term && meta.leader !== cluster!.addressOf(host);
  }, FAILOVER_WAIT_MS);
}

/** The committed metadata has no migration and its ring is `ring`; GET /cluster on every shard leader agrees. */
async function waitMigrationOver(ring: string[]): Promise<TopologyJson> {
  let json: TopologyJson | undefined;
  await waitFor(`the migration to end with the ring ${ring.join(', ')}`, async () => {
    const meta = await cluster!.metadata();
    if (meta.migration !== null || meta.ring.join() !== ring.join()) return false;
    const answers = await Promise.all(meta.shards.map((s) => clusterJson(probe!, s.leader)));
    json = answers[0];
    return answers.every((a) => !a.migration && a.shards.map((s) => s.name).join() === ring.join());
  }, MIGRATION_WAIT_MS);
  return json!;
}

interface MigrationFaults {
  /** The host killed with kill -9 the moment the migration is accepted (and restarted later), and the shard it leads. */
  kill: { host: string; shard: string; term: number };
  /** The host then cut off from every other host until the load got through, and the shard it leads. */
  cut: { host: string; shard: string; term: number };
}

async function leaderRole(shard: string): Promise<{ host: string; shard: string; term: number }> {
  const meta = await cluster!.shardMeta(shard);
  return { host: cluster!.hostOf(meta.leader), shard, term: meta.term };
}

/**
 * Starts a migration with `start`; at once kill -9 of the `kill` leader (a signal: it lands
 * within milliseconds, before the migration can have done its moves) and, while the migration
 * waits for that shard to fail over, the `cut` leader isolated; each seen to land during the
 * migration (the committed metadata still shows it with a move not done); both shards fail
 * over; the load gets through; the cut healed, the node restarted; the migration ends.
 */
async function migrateUnderFaults(what: string, nemesis: Nemesis, load: Workload, start: () => Promise<unknown>, roles: () => Promise<MigrationFaults>, ring: string[], note: (line: string) => void): Promise<TopologyJson> {
  const { kill, cut } = await roles();
  const began = Date.now();
  await start();
  const accepted = Date.now() - began;
  await nemesis.kill(kill.host);
  const meta = await cluster!.metadata();
  assert.ok(meta.migration, `${what}: the committed metadata shows no migration once the command was accepted`);
  const id = meta.migration.id;
  const atKill = assertUnderWay(meta, id, `killing ${kill.host} (${kill.shard}'s leader)`);
  await nemesis.isolate(cut.host);
  const atCut = assertUnderWay(await cluster!.metadata(), id, `cutting off ${cut.host} (${cut.shard}'s leader)`);
  note(`${what}: accepted in ${accepted} ms; ${kill.host} (${kill.shard} leader) killed with moves ${atKill}; ${cut.host} (${cut.shard} leader) cut off at ${Date.now() - began} ms with moves ${atCut}`);
  await failedOver(kill.shard, kill.host, kill.term);
  await failedOver(cut.shard, cut.host, cut.term);
  await load.waitForProgress({ acknowledged: PHASE_ACKS }, `writes acknowledged while ${kill.host} is down and ${cut.host} cut off`);
  note(`${what}: both shards failed over by ${Date.now() - began} ms`);
  await nemesis.heal();
  await nemesis.restart(kill.host);
  const json = await waitMigrationOver(ring);
  const over = Date.now() - began;
  await cluster!.waitAllInSync(probe!);
  await load.waitForProgress({ acknowledged: PHASE_ACKS }, `writes acknowledged after ${what}`);
  const after = await cluster!.metadata();
  note(`${what}: migration over at ${over} ms, ${Date.now() - began} ms in all; leaders after: ${after.shards.map((s) => `${s.name} ${cluster!.hostOf(s.leader)} term ${s.term}`).join(', ')}`);
  return json;
}

/**
 * Every key straight from its owner's leader (no redirect followed): 200 with `expected`, or
 * 404 where it is absent. A 503 refusal (the leader renewing a late lease on a starved machine)
 * is asked again, for up to READ_REFUSED_WAIT_MS; the refusals are counted by code.
 */
async function assertReadableFromOwners(topology: Topology, expected: Map<string, string | null>): Promise<Map<string, number>> {
  const transport = new HttpTransport({ requestTimeoutMs: 10_000, responseBytesMax: 1 << 20, socketsPerNodeMax: 8 });
  const headers = { Authorization: `Bearer ${cluster!.token}` };
  const wrong: string[] = [];
  const refusals = new Map<string, number>();
  const readOne = async (key: string, value: string | null) => {
    const owner = topology.shardOf(encoder.encode(key));
    const giveUpAt = Date.now() + READ_REFUSED_WAIT_MS;
    for (;;) {
      const res = await transport.request(owner.leader, { method: 'GET', path: `/kv/${percentEncode(encoder.encode(key))}`, headers });
      if (res.status === 503 && Date.now() < giveUpAt) {
        const code = errorCode(res) ?? '503';
        refusals.set(code, (refusals.get(code) ?? 0) + 1);
        await delay(READ_REFUSED_DELAY_MS);
        continue;
      }
      const got = res.status === 200 ? Buffer.from(res.body).toString() : null;
      if (res.status !== (value === null ? 404 : 200) || got !== value) {
        wrong.push(`${key} from ${owner.name}'s leader ${owner.leader}: ${res.status} ${errorCode(res) ?? (got ?? '').slice(0, 40)}, expected ${(value ?? 'absent').slice(0, 40)}`);
      }
      return;
    }
  };
  try {
    const entries = [...expected];
    for (let i = 0; i < entries.length; i += DIRECT_READS_AT_ONCE) await Promise.all(entries.slice(i, i + DIRECT_READS_AT_ONCE).map(([k, v]) => readOne(k, v)));
  } finally {
    transport.close();
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${expected.size} keys not read as expected from their owner's leader`);
  return refusals;
}

test('a shard added and removed across hosts while the nemesis cuts off and kills the migration\'s leaders loses no acknowledged write, stays linearizable per key, and leaves each key in exactly its owner\'s engines', { skip }, async (t) => {
  const c = cluster!;
  const nemesis = new Nemesis(c);
  const connect: Connect = (o) => c.connect({ ...o, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  const note = (line: string) => t.diagnostic(line);
  const load = await Workload.start(connect, { workers: WORKERS, keys: LOAD_KEYS, seed: SEED, opsMax: 1_000_000, durationMsMax: 60 * 60_000, requestTimeoutMs: REQUEST_TIMEOUT_MS, writeRetryMsMax: WRITE_RETRY_MS });
  const started = Date.now();
  note(`started ${c.hostNames.length} hosts (2 shards of ${1 + REPLICAS}, ${c.spareHosts.length} spares) in ${startMs.cluster} ms; ${BULK_KEYS} bulk keys written in ${startMs.bulk} ms`);
  const movedToNew: number[] = [];
  let json: TopologyJson | undefined;
  try {
    await load.waitForProgress({ acknowledged: PHASE_ACKS }, 'writes acknowledged before the first migration');
    for (let round = 0; round < ROUNDS; round++) {
      const name = `shard-new-${round}`;
      // Each round a different spare leads the new shard.
      const members = c.spareHosts.map((_, i) => c.addressOf(c.spareHosts[(i + round) % c.spareHosts.length]!));
      json = await migrateUnderFaults(`adding ${name}`, nemesis, load,
        () => probe!.admin('/admin/shard/add', { name, members }),
        // The receiving shard's first leader is its first member (it leads at term 1).
        async () => ({ kill: { host: c.hostOf(members[0]!), shard: name, term: 1 }, cut: await leaderRole(c.shards[round % 2]!.name) }),
        [...c.shards.map((s) => s.name), name], note);
      const added = Topology.fromJson(json);
      const ownedBy = (keys: Iterable<string>) => [...keys].filter((k) => added.shardOf(encoder.encode(k)).name === name).length;
      movedToNew.push(ownedBy(load.keys));
      note(`${name} took ${movedToNew.at(-1)} of the load's ${load.keys.length} keys and ${ownedBy(bulk.keys())} of ${bulk.size} bulk keys`);
      json = await migrateUnderFaults(`removing ${name}`, nemesis, load,
        () => probe!.admin('/admin/shard/remove', { name }),
        async () => ({ kill: await leaderRole(name), cut: await leaderRole(c.shards[(round + 1) % 2]!.name) }),
        c.shards.map((s) => s.name), note);
    }
  } catch (error) {
    note(`failed with the load at ${JSON.stringify(load.counts())}; errors so far: ${[...load.errors].map(([code, n]) => `${code} ${n}`).join(', ')}`);
    note(`nemesis: ${nemesis.log.events.map((e) => `${e.kind} ${e.detail}`).join('; ')}`);
    note(`metadata: ${JSON.stringify(await c.metadata().catch((e: Error) => e.message))}`);
    throw error;
  } finally {
    await nemesis.healAll();
    await load.stop();
  }
  await c.waitSettled(probe!);
  const report = await load.check(connect, nemesis.log);
  t.diagnostic(`${report.summary}; ${Date.now() - started} ms under load`);
  t.diagnostic(`errors seen by the load: ${[...report.errors].map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}`);
  assert.deepEqual(report.lost, [], report.explain());
  assert.equal(report.linearizability.verdict, 'linearizable', report.explain());
  assert.deepEqual(report.termConflicts, [], report.explain());
  assert.deepEqual(report.unlabelled, [], report.explain());
  assert.ok(report.counts.acknowledged >= PHASE_ACKS * (1 + 4 * ROUNDS), `only ${report.counts.acknowledged} writes were acknowledged`);
  const counts = nemesis.log.counts();
  for (const kind of ['isolate', 'heal', 'kill', 'restart'] as const) assert.ok((counts.get(kind) ?? 0) >= 2 * ROUNDS, `nemesis ${kind} ran ${counts.get(kind) ?? 0} times`);

  // Every key from its owner, then every engine, by the ring the last migration left.
  const topology = Topology.fromJson(json!);
  const expected = new Map<string, string | null>([...bulk, ...load.keys.map((k) => [k, report.finalValues.get(k) ?? null] as const)]);
  assert.ok(movedToNew.every((n) => n > 0), `each added shard took some of the load's keys: ${movedToNew.join(', ')}`);
  const refusals = await assertReadableFromOwners(topology, expected);
  await waitFor('the removed shards\' nodes to be unassigned', async () => {
    const states = await Promise.all(c.spareHosts.map((h) => c.state(probe!, h)));
    return states.every((s) => s.role === 'unassigned');
  });
  await Promise.all([...c.nodes.values()].map((n) => n.stop()));
  for (const spare of c.spareHosts) assert.equal((await engineKeys(c.dataDir(spare))).size, 0, `${spare} (in the removed shards) holds no key`);
  for (const shard of topology.shards) {
    for (const address of [shard.leader, ...shard.replicas]) {
      const host = c.hostOf(address);
      const keys = await engineKeys(c.dataDir(host));
      const strays = [...keys.keys()].filter((k) => topology.shardOf(Buffer.from(k, 'latin1')).name !== shard.name);
      assert.deepEqual(strays.slice(0, 5), [], `${host} (${shard.name}) holds no key of another shard (${strays.length} strays)`);
      const missing = [...expected].filter(([k, v]) => topology.shardOf(encoder.encode(k)).name === shard.name && (keys.get(k) ?? null) !== (v === null ? null : Buffer.from(v).toString('latin1')));
      assert.deepEqual(missing.slice(0, 5), [], `${host} holds each of ${shard.name}'s keys with its last value (${missing.length} missing or stale)`);
    }
  }
  t.diagnostic(`ownership: ${expected.size} keys read from their owners' leaders, and found in exactly their owners' engines; refusals asked again: ${[...refusals].map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}`);
});

test('the resharding run leaves ip netns list and ip link as they were', { skip }, async () => {
  await cluster!.close();
  assert.deepEqual(await hostLeftovers(), leftoversBefore);
});
