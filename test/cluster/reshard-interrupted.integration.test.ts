/**
 * Interrupted migrations with real processes (docs/resharding.md, issue 15): kill -9 of the
 * giving shard's leader, the receiving shard's leader or the control plane's leader at each
 * step of a migration — while the snapshot is copied, in cutover, and after a move is done but
 * before its giver has cleaned up — in shard adds and removes, under a checkable load. Every
 * run checks that the migration still ends with the planned ring, that no read contradicted an
 * acknowledged write, that every acknowledged write reads back, and that each key is in exactly
 * its owner's engines (leader and replica), in no other: nothing lost, duplicated or stranded.
 *
 * One cluster serves all runs, so they stay within budget: shards shard-0 and shard-1 (leader
 * and one replica each, so a killed leader fails over by itself), three controller-only nodes
 * (the control plane's leader can be killed), and two spare nodes that shard X is made of. The
 * runs alternate adding X and removing it. A killed node is restarted, as an operator would,
 * either a second later (while the migration goes on) or only once the migration has ended; the
 * cluster is back to full strength (every member in sync) before the next run starts. Each
 * run's role and point are in the test's name and its diagnostics; a diagnostic says MISSED
 * when the migration had passed the point before a poll saw it (the kill still happens).
 *
 * `npm test` runs 9 (each role at each step once); RESHARD_INTERRUPTED=long runs 18 over a
 * larger seed. RESHARD_LOG_DIR=DIR keeps every node's log after each run.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Topology } from '../../cluster/index.ts';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_FAILOVER, startCluster, type NodeProcess, type TestCluster } from '../helpers/cluster-harness.ts';
import { freePorts } from '../helpers/free-ports.ts';
import { startOwnedKeyLoad, type OwnedKeyLoad } from '../helpers/owned-key-load.ts';
import { checkPlacement, type Expectation, type MetaJson } from '../helpers/placement-check.ts';

/**
 * RESHARD_INTERRUPTED=long: every role at every step in both a shard add and a shard remove
 * (each with the other restart timing too), 18 runs over a larger seed; the default, for `npm
 * test`, is 9 runs, each role at each step once.
 */
const MODE = process.env['RESHARD_INTERRUPTED'] ?? 'short';
const LONG = MODE === 'long';
/** 8 MB either way, so a move's snapshot takes about ten chunks (MIGRATION_CHUNK_BYTES) and a kill can land inside it; fewer keys check faster. */
const SEEDED_KEYS = LONG ? 16_000 : 4_000;
const SEED_VALUE_BYTES = LONG ? 512 : 2_048;
const SEED_BATCH_OPS = 100;
const WAIT_MS = 120_000;
/** A run whose killed node waits for the migration's end restarts it anyway after this long (it may have been the shard's only in-sync member). */
const LATE_RESTART_AFTER_MS = 30_000;
/** A backstop: every wait in a run is bounded by WAIT_MS, so a run that outlives this hangs somewhere unbounded, and fails here instead of holding the suite. */
const RUN_TIMEOUT_MS = 5 * 60_000;
const POLL_MS = 10;
const HTTP_TIMEOUT_MS = 3_000;
/** The node processes the runs killed (the cluster's map holds their restarted successors), for their logs. */
const killedNodes: NodeProcess[] = [];
const OLD_SHARDS = ['shard-0', 'shard-1'];
const NEW_SHARD = 'X';

type Role = 'giver' | 'receiver' | 'controller';
type Point = 'copy' | 'cutover' | 'cleanup';
type Move = NonNullable<MetaJson['migration']>['moves'][number];

interface RunSpec {
  kind: 'add' | 'remove';
  role: Role;
  point: Point;
  /** The old shard of the move the run watches: its giver in an add, its receiver in a remove. */
  side: string;
  /** soon: a second after the kill; late: once the migration is over. */
  restart: 'soon' | 'late';
}

const SHORT_RUNS: RunSpec[] = [
  { kind: 'add', role: 'giver', point: 'copy', side: 'shard-0', restart: 'soon' },
  { kind: 'remove', role: 'receiver', point: 'copy', side: 'shard-0', restart: 'late' },
  { kind: 'add', role: 'controller', point: 'copy', side: 'shard-1', restart: 'soon' },
  { kind: 'remove', role: 'giver', point: 'cutover', side: 'shard-1', restart: 'late' },
  // bugs-reshard.md #8 was found by this run: the receiver's leader, back a second later, acted on its cached metadata and deleted its copies without voiding the recorded progress.
  { kind: 'add', role: 'receiver', point: 'cutover', side: 'shard-0', restart: 'soon' },
  { kind: 'remove', role: 'controller', point: 'cutover', side: 'shard-0', restart: 'late' },
  { kind: 'add', role: 'giver', point: 'cleanup', side: 'shard-1', restart: 'soon' },
  { kind: 'remove', role: 'receiver', point: 'cleanup', side: 'shard-1', restart: 'late' },
  { kind: 'add', role: 'controller', point: 'cleanup', side: 'shard-0', restart: 'late' },
];

/** Each short run, then its mirror: the other kind of migration, the other side, the other restart timing (adds and removes still alternate). */
const LONG_RUNS: RunSpec[] = SHORT_RUNS.flatMap((spec) => [spec, {
  ...spec,
  kind: spec.kind === 'add' ? 'remove' : 'add',
  side: spec.side === 'shard-0' ? 'shard-1' : 'shard-0',
  restart: spec.restart === 'soon' ? 'late' : 'soon',
} satisfies RunSpec]);
const RUNS = LONG ? LONG_RUNS : SHORT_RUNS;

const POINT_TEXT: Record<Point, string> = { copy: 'while the snapshot is copied', cutover: 'in cutover', cleanup: 'after a move is done, before its giver cleaned up' };
const ROLE_TEXT: Record<Role, string> = { giver: "the giving shard's leader", receiver: "the receiving shard's leader", controller: "the control plane's leader" };

describe('migrations interrupted by kill -9 of each role at each step', () => {
  let cluster: TestCluster;
  let client: Client;
  let spares: string[];
  /** Every key the test wrote and what it may hold. */
  const expected = new Map<string, Expectation>();
  let failed: string | undefined;

  before(async () => {
    assert.ok(MODE === 'short' || MODE === 'long', `RESHARD_INTERRUPTED must be short or long, got ${MODE}`);
    cluster = await startCluster({ shards: 2, replicas: 1, controllers: 3, controlToml: CONTROL_TOML_FAILOVER, replicationToml: 'min_insync = 0' });
    client = await Client.connect([...cluster.controllers, ...cluster.shards.map((s) => s.leader)]);
    await seed(cluster, client, expected);
    spares = (await freePorts(2)).map((p) => `127.0.0.1:${p}`);
    await Promise.all(spares.map((a) => cluster.start(a)));
  });
  after(async () => {
    client?.close();
    await cluster?.close();
  });

  RUNS.forEach((spec, i) => {
    const name = `run ${i + 1}: ${spec.kind} ${NEW_SHARD}, kill -9 of ${ROLE_TEXT[spec.role]} ${POINT_TEXT[spec.point]} (restarted ${spec.restart === 'soon' ? 'a second later' : 'after the migration'}): it ends as planned, with nothing lost, duplicated or stranded`;
    it(name, { timeout: RUN_TIMEOUT_MS }, async (t) => {
      if (failed) return t.skip(`an earlier run failed (${failed}); the cluster may be broken`);
      try {
        await interruptedRun(t, spec, i + 1);
      } catch (error) {
        failed = `run ${i + 1}`;
        dumpLogs(t, cluster);
        throw error;
      } finally {
        await saveLogs(cluster, i + 1);
      }
    });
  });

  async function interruptedRun(t: TestContext, spec: RunSpec, run: number): Promise<void> {
    await waitSteady(cluster);
    const load = startOwnedKeyLoad({ client, workers: 4, keysPerWorker: 25, writeFraction: 0.5, opsMax: 20_000, durationMsMax: WAIT_MS + 60_000, prefix: `run${run}` });
    const started = Date.now();
    const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    await client.admin(`/admin/shard/${spec.kind}`, spec.kind === 'add' ? { name: NEW_SHARD, members: spares } : { name: NEW_SHARD });
    const hit = await waitForPoint(cluster, spec);
    const victim = await victimOf(cluster, spec, hit.meta, hit.move);
    const killed = cluster.nodes.get(victim)!;
    killedNodes.push(killed);
    await killed.stop('SIGKILL');
    const afterKill = describeMigration(await currentMeta(cluster));
    t.diagnostic(`run ${run}: ${spec.kind} ${NEW_SHARD}; ${hit.seen} at ${seconds()}: killed ${ROLE_TEXT[spec.role]} ${victim}; the migration just after: ${afterKill}`);

    let restart: Promise<unknown> | undefined;
    const restartVictim = (why: string) => {
      if (restart) return;
      t.diagnostic(`run ${run}: restarting ${victim} at ${seconds()} (${why})`);
      restart = cluster.start(victim);
      // Awaited below; this only keeps a failure that comes while the run waits for something else from going unhandled.
      restart.catch(() => undefined);
    };
    if (spec.restart === 'soon') void delay(1_000).then(() => restartVictim('a second after the kill'));
    const planned = spec.kind === 'add' ? [...OLD_SHARDS, NEW_SHARD] : OLD_SHARDS;
    const done = await waitFor(cluster, `the migration to end with the ring ${planned.join(', ')}`, async (meta) => {
      if (spec.restart === 'late' && !restart && Date.now() - started > LATE_RESTART_AFTER_MS) restartVictim(`the migration was not over after ${LATE_RESTART_AFTER_MS / 1000} s`);
      return !meta.migration && sameList(meta.ring, planned) && sameList(meta.shards.map((s) => s.name).sort(), [...planned].sort());
    });
    t.diagnostic(`run ${run}: the migration ended at ${seconds()} (metadata version ${done.version})`);
    await load.stop();
    restartVictim('the migration is over');
    await restart;
    t.diagnostic(`run ${run}: ${victim} is back at ${seconds()}`);

    t.diagnostic(`run ${run}: load: ${load.ops()} operations, ${load.acknowledged.size} keys acknowledged, errors ${JSON.stringify(Object.fromEntries(load.errors))}`);
    assert.deepEqual(load.wrong, [], 'no read contradicted an acknowledged write');
    assert.ok(load.acknowledged.size > 0, 'some writes were acknowledged during the run');
    addExpectations(expected, load);
    await checkReadable(client, expected, `run${run}:`);
    t.diagnostic(`run ${run}: the keys read back at ${seconds()}`);

    await waitSteady(cluster);
    t.diagnostic(`run ${run}: every shard fully in sync at ${seconds()}`);
    const problems = await checkPlacement({ meta: await currentMeta(cluster), nodes: cluster.nodes, dataDir: cluster.dataDir, expected });
    assert.deepEqual(problems, [], 'each key is in exactly its owner\'s engines');
    t.diagnostic(`run ${run}: checked ${expected.size} keys in ${cluster.nodes.size} engines at ${seconds()}`);
  }
});

/** Writes SEEDED_KEYS keys, a batch per shard at a time, acks=all. */
async function seed(cluster: TestCluster, client: Client, expected: Map<string, Expectation>): Promise<void> {
  const topology = Topology.fromJson((await getJson(cluster.shards[0]!.leader, '/cluster'))!);
  const byShard = new Map<string, { type: 'put'; key: string; value: string }[]>();
  for (let i = 0; i < SEEDED_KEYS; i++) {
    const key = `seed:${i}`;
    const value = `${key}=`.padEnd(SEED_VALUE_BYTES, String.fromCharCode(97 + (i % 26)));
    expected.set(key, { values: [value], mayBeAbsent: false });
    const shard = topology.shardOf(Buffer.from(key)).name;
    if (!byShard.has(shard)) byShard.set(shard, []);
    byShard.get(shard)!.push({ type: 'put', key, value });
  }
  for (const ops of byShard.values()) {
    for (let i = 0; i < ops.length; i += SEED_BATCH_OPS) await client.batch(ops.slice(i, i + SEED_BATCH_OPS), { acks: 'all' });
  }
}

/** Polls until the run's point is reached on its move (or has passed: then says so), and returns what was seen. */
async function waitForPoint(cluster: TestCluster, spec: RunSpec): Promise<{ meta: MetaJson; move: Move; seen: string }> {
  const order = ['copy', 'cutover', 'done'];
  let result: { meta: MetaJson; move: Move; seen: string } | undefined;
  await waitFor(cluster, `${POINT_TEXT[spec.point]} in the ${spec.kind} of ${NEW_SHARD}`, async (meta) => {
    if (!meta.migration) {
      // Missed altogether (the migration ended before a poll saw the point): kill anyway; the diagnostic says so.
      result = { meta, move: { giver: '', receiver: '', state: 'done', through: 0, cleaned: true }, seen: `MISSED ${spec.point}: the migration was already over` };
      return true;
    }
    const moves = meta.migration.moves;
    if (spec.point === 'cleanup') {
      // In a remove the giver cleans up only once every move is done: the first move done opens the window.
      const move = moves.find((m) => m.state === 'done' && !m.cleaned);
      if (move) result = { meta, move, seen: `move ${move.giver} → ${move.receiver} done, not yet cleaned` };
      else if (moves.every((m) => m.cleaned)) result = { meta, move: moves[0]!, seen: `MISSED cleanup: every move cleaned` };
      return result !== undefined;
    }
    const move = moves.find((m) => (spec.kind === 'add' ? m.giver === spec.side : m.receiver === spec.side))!;
    if (order.indexOf(move.state) > order.indexOf(spec.point)) {
      result = { meta, move, seen: `MISSED ${spec.point}: move ${move.giver} → ${move.receiver} already ${move.state}` };
      return true;
    }
    if (move.state !== spec.point) return false;
    if (spec.point === 'cutover') {
      result = { meta, move, seen: `move ${move.giver} → ${move.receiver} in cutover` };
      return true;
    }
    // Copy: wait until the receiving leader has keys of the snapshot; `through` stays 0 until the snapshot's end.
    const receiving = meta.shards.find((s) => s.name === move.receiver)!.leader;
    const state = await getJson(receiving, '/internal/state');
    const progress = (state?.replication?.migration?.receiving as { giver: string; through: number; keysCopied: number }[] | undefined)?.find((p) => p.giver === move.giver);
    if (!progress || progress.keysCopied === 0) return false;
    const phase = progress.through === 0 ? 'the snapshot being copied' : `log tailing (snapshot done, through ${progress.through})`;
    result = { meta, move, seen: `move ${move.giver} → ${move.receiver} in copy, ${phase}, ${progress.keysCopied} keys copied` };
    return true;
  }, POLL_MS);
  return result!;
}

/** The address to kill: the leader of the move's giving or receiving shard, or the control plane's leader. */
async function victimOf(cluster: TestCluster, spec: RunSpec, meta: MetaJson, move: Move): Promise<string> {
  if (spec.role === 'controller') {
    const statuses = await Promise.all(cluster.controllers.map(async (c) => ({ c, status: await getJson(c, '/internal/control') })));
    const leading = statuses.filter((s) => s.status?.role === 'leader').sort((a, b) => b.status.term - a.status.term)[0];
    assert.ok(leading, `a controller leads the control plane: ${JSON.stringify(statuses)}`);
    return leading.c;
  }
  const shard = spec.role === 'giver' ? move.giver || (spec.kind === 'add' ? spec.side : NEW_SHARD) : move.receiver || (spec.kind === 'add' ? NEW_SHARD : spec.side);
  return meta.shards.find((s) => s.name === shard)?.leader ?? (await currentMeta(cluster)).shards.find((s) => s.name === shard)!.leader;
}

/**
 * Waits until the cluster is back to full strength and quiet: every node runs and is ready, no
 * migration, every shard's members all in its in-sync set, and every follower has applied all
 * its leader has.
 */
async function waitSteady(cluster: TestCluster): Promise<MetaJson> {
  let why = '';
  return waitFor(cluster, 'every node ready and every shard fully in sync', async (meta) => {
    for (const [address, node] of cluster.nodes) if (!node.running) throw new Error(`${address} is not running:\n${node.stderr.slice(-3000)}`);
    if (meta.migration) return !(why = `migration ${meta.migration.id} under way`);
    for (const shard of meta.shards) {
      if (!sameList([...shard.inSync].sort(), [...shard.members].sort())) return !(why = `${shard.name}'s in-sync set is ${shard.inSync.join(', ')}`);
      const state = await getJson(shard.leader, '/internal/state');
      const followers = (state?.replication?.leader?.followers ?? []) as { node: string; applied: number; connected: boolean }[];
      if (state?.role !== 'leader' || followers.length !== shard.members.length - 1) return !(why = `${shard.leader} does not lead ${shard.name} with all its followers yet`);
      const behind = followers.find((f) => !f.connected || f.applied !== state.lastSequence);
      if (behind) return !(why = `${behind.node} has applied ${behind.applied} of ${state.lastSequence}`);
    }
    const health = await Promise.all([...cluster.nodes.keys()].map((a) => getJson(a, '/healthz')));
    const unready = health.findIndex((h) => !h?.ready);
    return unready < 0 || !(why = `${[...cluster.nodes.keys()][unready]} is not ready`);
  }, 100, () => why);
}

/** Polls `check` with the current metadata until it holds; fails after WAIT_MS with what it waited for. */
async function waitFor(cluster: TestCluster, what: string, check: (meta: MetaJson) => Promise<boolean>, pollMs = 100, detail: () => string = () => ''): Promise<MetaJson> {
  const deadline = Date.now() + WAIT_MS;
  let last: MetaJson | undefined;
  while (Date.now() < deadline) {
    last = await currentMeta(cluster);
    if (await check(last)) return last;
    await delay(pollMs);
  }
  throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}: ${detail()} ${last ? describeMigration(last) : ''}`);
}

/** The committed metadata, from the first controller that answers; fails after WAIT_MS, with each controller's state, if none does. */
async function currentMeta(cluster: TestCluster): Promise<MetaJson> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    for (const controller of cluster.controllers) {
      const meta = await getJson(controller, '/internal/meta');
      if (meta) return meta as MetaJson;
    }
    await delay(100);
  }
  const states = cluster.controllers.map((c) => {
    const node = cluster.nodes.get(c);
    return `${c} ${node?.running ? 'running' : 'not running'}: ${node?.stderr.slice(-1500) ?? ''}`;
  });
  throw new Error(`no controller answered GET /internal/meta within ${WAIT_MS} ms:\n${states.join('\n')}`);
}

async function getJson(address: string, path: string): Promise<any> {
  try {
    const res = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    return res.status === 200 ? await res.json() : undefined;
  } catch {
    return undefined; // a node down or busy: the caller polls again
  }
}

function describeMigration(meta: MetaJson): string {
  const shards = meta.shards.map((s) => `${s.name} led by ${s.leader} at term ${s.term} (in sync: ${s.inSync.length}/${s.members.length})`).join('; ');
  const migration = meta.migration ? `${meta.migration.kind} ${meta.migration.shard}: ${meta.migration.moves.map((m) => `${m.giver} → ${m.receiver} ${m.state}${m.cleaned ? ' cleaned' : ''}`).join(', ')}` : 'no migration';
  return `version ${meta.version}, ${migration}, ring ${meta.ring.join(', ')}; ${shards}`;
}

/** A key the load wrote may hold its last acknowledged value or any failed attempt since; one never acknowledged may be absent. */
function addExpectations(expected: Map<string, Expectation>, load: OwnedKeyLoad): void {
  for (const [key, value] of load.acknowledged) expected.set(key, { values: [value, ...(load.unconfirmed.get(key) ?? [])], mayBeAbsent: false });
  for (const [key, values] of load.unconfirmed) if (!load.acknowledged.has(key)) expected.set(key, { values, mayBeAbsent: true });
}

/** Reads back through the client every key whose name starts with `prefix`, and every tenth seeded key. */
async function checkReadable(client: Client, expected: Map<string, Expectation>, prefix: string): Promise<void> {
  const keys = [...expected.keys()].filter((k, i) => k.startsWith(prefix) || (k.startsWith('seed:') && i % 10 === 0));
  for (let i = 0; i < keys.length; i += 100) {
    const slice = keys.slice(i, i + 100);
    const values = await Promise.all(slice.map((k) => client.get(k)));
    slice.forEach((key, j) => {
      const got = values[j] === undefined ? undefined : Buffer.from(values[j]!).toString();
      const expectation = expected.get(key)!;
      assert.ok(got === undefined ? expectation.mayBeAbsent : expectation.values.includes(got), `${key} reads ${got?.slice(0, 40) ?? 'nothing'}; expected ${expectation.values.map((v) => v.slice(0, 40)).join(' or ')}`);
    });
  }
}

/** On a failure: the nodes' log lines about migrations, leadership and errors, for the diagnosis. */
function dumpLogs(t: TestContext, cluster: TestCluster): void {
  const interesting = /migration|move|clean|emptied|leading|elected|error|"warn"/;
  for (const node of new Set([...cluster.nodes.values(), ...killedNodes])) {
    const address = `${node.address} (pid ${node.pid})`;
    const lines = node.stderr.split('\n').filter((l) => interesting.test(l)).slice(-40);
    t.diagnostic(`--- ${address} (${node.running ? 'running' : 'not running'}):\n${lines.map((l) => l.slice(0, 400)).join('\n')}`);
  }
}

/** With RESHARD_LOG_DIR set, every node's whole log after each run goes there (one file per node process), for a diagnosis. */
async function saveLogs(cluster: TestCluster, run: number): Promise<void> {
  const dir = process.env.RESHARD_LOG_DIR;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  for (const node of new Set([...cluster.nodes.values(), ...killedNodes])) await writeFile(path.join(dir, `run${run}-${node.address.replace(':', '_')}-${node.pid}.log`), node.stderr);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
