/**
 * Live resharding under load (issue 15), with real processes:
 *
 *   npm run bench:reshard -- [--keys 1000000] [--connections 50] [--seconds 15] [--value-bytes 100] [--out bench/results]
 *
 * A 3-shard cluster (one replica each, one controller node) holding `keys` keys, under a
 * checked load of `connections` workers (90% reads, 10% acks=all writes; load.ts). After
 * `seconds` of load, a 4th shard is added; `seconds` after the migration ends, it is removed
 * again; `seconds` later the load stops. Reported for each migration: keys moved against the
 * ideal quarter, migration time and MB/s, throughput during it as a fraction of before, how long
 * each move refused writes (cutover to done, as polled from GET /cluster) and the slowest
 * acknowledged write to its keys, errors, wrong reads; and at the end, every key read back
 * through a scan of every shard: none missing, none with a value it may not hold.
 *
 * Exit codes: 0 done with every check passing, 1 a check failed or the run broke, 2 bad flags.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Topology, VNODES_DEFAULT, type TopologyJson } from '../../cluster/index.ts';
import { Client } from '../../net/index.ts';
import { startCluster, type TestCluster } from '../../test/helpers/cluster-harness.ts';
import { freePorts } from '../../test/helpers/free-ports.ts';
import { keyOf, valueOf } from './keys.ts';
import { CheckedLoad, versionOf } from './load.ts';

const KEYS_MAX = 10_000_000;
const CONNECTIONS_MAX = 512;
const SECONDS_MAX = 600;
const MIGRATION_WAIT_MS_MAX = 30 * 60_000;
const POLL_MS = 20;
const LOAD_BATCH = 1000;
const LOAD_PARALLEL = 4;
const LOAD_ATTEMPTS = 5;
const encoder = new TextEncoder();

interface Options {
  keys: number;
  connections: number;
  seconds: number;
  valueBytes: number;
  outDir: string;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, options: {
        keys: { type: 'string', default: '1000000' }, connections: { type: 'string', default: '50' }, seconds: { type: 'string', default: '15' },
        'value-bytes': { type: 'string', default: '100' }, out: { type: 'string', default: 'bench/results' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write('usage: npm run bench:reshard -- [--keys N] [--connections C] [--seconds S] [--value-bytes B] [--out DIR]\n');
    process.exit(0);
  }
  const int = (name: string, text: string, min: number, max: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
    return n;
  };
  return {
    keys: int('keys', values.keys, 1000, KEYS_MAX), connections: int('connections', values.connections, 1, CONNECTIONS_MAX),
    seconds: int('seconds', values.seconds, 1, SECONDS_MAX), valueBytes: int('value-bytes', values['value-bytes'], 16, 64 * 1024), outDir: values.out,
  };
}

const say = (line: string) => process.stderr.write(`bench:reshard: ${line}\n`);

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  let cluster: TestCluster | undefined;
  let client: Client | undefined;
  try {
    say(`starting 3 shards x 2 nodes, 1 controller, 2 spare nodes (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    cluster = await startCluster({ shards: 3, replicas: 1, controllers: 1, controlToml: '', vnodes: VNODES_DEFAULT });
    const spares = (await freePorts(2)).map((p) => `127.0.0.1:${p}`);
    await Promise.all(spares.map((a) => cluster!.start(a)));
    client = await Client.connect([cluster.shards[0]!.leader]);
    await loadKeys(client, o);
    const load = new CheckedLoad({ client, connections: o.connections, keys: o.keys, valueBytes: o.valueBytes, writeFraction: 0.1, opsMax: 1e9, durationMsMax: SECONDS_MAX * 4 * 1000, seed: 42 });
    const leader = cluster.shards[0]!.leader;
    await delay(o.seconds * 1000);
    const add = await migrate(client, leader, load, '/admin/shard/add', { name: 'shard-3', members: spares }, o);
    await delay(o.seconds * 1000);
    const remove = await migrate(client, leader, load, '/admin/shard/remove', { name: 'shard-3' }, o);
    await delay(o.seconds * 1000);
    await load.stop();
    say(`load stopped: ${load.ops} operations, ${load.acked} writes acknowledged; reading every key back`);
    const final = await checkEveryKey(client, load, o);
    const report = { command: `npm run bench:reshard -- ${process.argv.slice(2).join(' ')}`.trim(), machine: { cpus: os.cpus().length, loadAverageAtEnd: os.loadavg() }, options: o, add, remove, load: { ops: load.ops, acknowledged: load.acked, errors: Object.fromEntries(load.errors), wrongReads: load.wrong.length, firstWrong: load.wrong.slice(0, 5) }, final };
    await mkdir(o.outDir, { recursive: true });
    const file = path.join(o.outDir, `reshard-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    printReport(report);
    say(`results in ${file}`);
    const ok = load.wrong.length === 0 && final.missing === 0 && final.wrong === 0 && load.errors.size === 0;
    return ok ? 0 : 1;
  } finally {
    client?.close();
    await cluster?.close();
  }
}

/** Puts every key at version 0, in batches of one shard each. */
async function loadKeys(client: Client, o: Options): Promise<void> {
  const topology = client.currentTopology();
  const byShard = new Map<string, number[]>();
  for (let i = 0; i < o.keys; i++) {
    const shard = topology.shardOf(encoder.encode(keyOf(i))).name;
    let list = byShard.get(shard);
    if (!list) byShard.set(shard, (list = []));
    list.push(i);
  }
  const batches: number[][] = [];
  for (const list of byShard.values()) for (let i = 0; i < list.length; i += LOAD_BATCH) batches.push(list.slice(i, i + LOAD_BATCH));
  const started = performance.now();
  let next = 0;
  let done = 0;
  await Promise.all(Array.from({ length: LOAD_PARALLEL }, async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const ops = batch.map((k) => ({ type: 'put' as const, key: keyOf(k), value: valueOf(k, 0, o.valueBytes) }));
      // Puts of version 0 are idempotent: a batch whose answer was an error (say, UNCONFIRMED on a busy machine) is sent again.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.batch(ops);
          break;
        } catch (error) {
          if (attempt === LOAD_ATTEMPTS) throw error;
          say(`a load batch failed (${(error as Error).message}); sending it again`);
        }
      }
      done += batch.length;
      if (Math.floor((done - batch.length) / (o.keys / 10)) !== Math.floor(done / (o.keys / 10))) say(`loaded ${done} of ${o.keys} keys`);
    }
  }));
  say(`loaded ${o.keys} keys in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

interface MoveFigures {
  giver: string;
  receiver: string;
  /** From first seeing the move in cutover to first seeing it done (GET /cluster every POLL_MS). */
  cutoverMs: number;
  /** The slowest acknowledged write to the move's keys sent while the migration ran. */
  slowestWriteMs: number;
}

/** Starts a migration, follows it to its end, and measures it. */
async function migrate(client: Client, leader: string, load: CheckedLoad, adminPath: string, body: Record<string, unknown>, o: Options) {
  const before = Topology.fromJson(await clusterJson(leader));
  const startSecond = Math.floor(load.elapsedSeconds());
  const startMs = performance.now();
  const planned = await client.admin(adminPath, body) as { migration: { id: number; kind: string; shard: string } };
  say(`migration ${planned.migration.id} (${planned.migration.kind} ${planned.migration.shard}) planned`);
  const cutoverSeen = new Map<string, number>();
  const doneSeen = new Map<string, number>();
  let last: TopologyJson;
  let during: TopologyJson | undefined;
  for (;;) {
    last = await clusterJson(leader);
    const now = performance.now();
    if (!last.migration) break;
    during = last;
    for (const m of last.migration.moves) {
      const key = `${m.giver}>${m.receiver}`;
      if (m.state !== 'copy' && !cutoverSeen.has(key)) cutoverSeen.set(key, now);
      if (m.state === 'done' && !doneSeen.has(key)) doneSeen.set(key, now);
    }
    if (now - startMs > MIGRATION_WAIT_MS_MAX) throw new Error(`migration ${planned.migration.id} did not end within ${MIGRATION_WAIT_MS_MAX} ms: ${JSON.stringify(last.migration)}`);
    await delay(POLL_MS);
  }
  const endMs = performance.now();
  const after = Topology.fromJson(last);
  const seconds = (endMs - startMs) / 1000;
  // Which keys changed owner, from the rings before and after: the keys moved.
  const moveOf = new Map<number, string>();
  for (let i = 0; i < o.keys; i++) {
    const key = encoder.encode(keyOf(i));
    const from = before.shardOf(key).name;
    const to = after.shardOf(key).name;
    if (from !== to) moveOf.set(i, `${from}>${to}`);
  }
  const ideal = o.keys / 4;
  const moves: MoveFigures[] = (during?.migration?.moves ?? []).map((m) => {
    const key = `${m.giver}>${m.receiver}`;
    const writes = load.writes.filter((w) => w.atMs >= startMs && w.atMs <= endMs && moveOf.get(w.key) === key);
    return { giver: m.giver, receiver: m.receiver, cutoverMs: Math.round((doneSeen.get(key) ?? endMs) - (cutoverSeen.get(key) ?? endMs)), slowestWriteMs: Math.round(Math.max(0, ...writes.map((w) => w.latencyMs))) };
  });
  const rate = (from: number, to: number) => average(load.perSecond.slice(from, to));
  const endSecond = Math.floor(load.elapsedSeconds());
  const figures = {
    kind: planned.migration.kind,
    keysMoved: moveOf.size,
    idealKeys: Math.round(ideal),
    movedOverIdeal: round(moveOf.size / ideal, 3),
    seconds: round(seconds, 1),
    mbPerSecond: round((moveOf.size * (keyOf(0).length + o.valueBytes)) / 1e6 / seconds, 2),
    opsPerSecondBefore: Math.round(rate(Math.max(1, startSecond - o.seconds + 1), startSecond)),
    opsPerSecondDuring: Math.round(rate(startSecond, Math.max(startSecond + 1, endSecond))),
    duringOverBefore: 0,
    moves,
    writeUnavailabilityMsMax: Math.max(0, ...moves.map((m) => m.cutoverMs)),
  };
  figures.duringOverBefore = round(figures.opsPerSecondDuring / figures.opsPerSecondBefore, 3);
  say(`migration ${planned.migration.id} done in ${figures.seconds} s: ${figures.keysMoved} keys moved (${figures.movedOverIdeal}x ideal), throughput ${figures.duringOverBefore}x of before`);
  return figures;
}

/** Reads every key back through one scan of every shard; counts keys missing and values a key may not hold. */
async function checkEveryKey(client: Client, load: CheckedLoad, o: Options): Promise<{ scanned: number; missing: number; wrong: number; examples: string[] }> {
  await client.refreshTopology();
  const seen = new Uint8Array(o.keys);
  let scanned = 0;
  let wrong = 0;
  const examples: string[] = [];
  for await (const [key, value] of client.scan({ gte: 'k:', lt: 'k;' })) {
    const i = Number(Buffer.from(key).toString('latin1').slice(2));
    scanned++;
    if (!Number.isInteger(i) || i >= o.keys || seen[i]) {
      wrong++;
      if (examples.length < 5) examples.push(`unexpected or repeated key ${Buffer.from(key).toString('latin1')}`);
      continue;
    }
    seen[i] = 1;
    if (!load.allowed(i, versionOf(value))) {
      wrong++;
      if (examples.length < 5) examples.push(`key ${i}: version ${versionOf(value)}, acknowledged ${load.acknowledged.get(i) ?? 0}`);
    }
  }
  const missing = seen.reduce((n, s) => n + (s ? 0 : 1), 0);
  return { scanned, missing, wrong, examples };
}

async function clusterJson(address: string): Promise<TopologyJson> {
  const res = await fetch(`http://${address}/cluster`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET /cluster on ${address}: ${res.status}`);
  return await res.json() as TopologyJson;
}

function printReport(report: { add: Awaited<ReturnType<typeof migrate>>; remove: Awaited<ReturnType<typeof migrate>>; load: Record<string, unknown>; final: Record<string, unknown> }): void {
  const rows = [['', 'add', 'remove']];
  const line = (name: string, get: (m: Awaited<ReturnType<typeof migrate>>) => unknown) => rows.push([name, String(get(report.add)), String(get(report.remove))]);
  line('keys moved (x ideal quarter)', (m) => `${m.keysMoved} (${m.movedOverIdeal}x)`);
  line('migration time', (m) => `${m.seconds} s`);
  line('MB/s moved', (m) => m.mbPerSecond);
  line('ops/s before -> during', (m) => `${m.opsPerSecondBefore} -> ${m.opsPerSecondDuring} (${m.duringOverBefore}x)`);
  line('write unavailability per move, max', (m) => `${m.writeUnavailabilityMsMax} ms`);
  line('slowest acked write per move', (m) => m.moves.map((x) => `${x.slowestWriteMs}`).join('/') + ' ms');
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  process.stdout.write(`${rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n')}\n`);
  process.stdout.write(`load: ${JSON.stringify(report.load)}\nfinal read-back: ${JSON.stringify(report.final)}\n`);
}

function average(values: (number | undefined)[]): number {
  const present = values.map((v) => v ?? 0);
  return present.length === 0 ? 0 : present.reduce((a, b) => a + b, 0) / present.length;
}

function round(n: number, digits: number): number {
  return Number(n.toFixed(digits));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:reshard: ${error instanceof UsageError ? '' : 'failed: '}${(error as Error).message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
