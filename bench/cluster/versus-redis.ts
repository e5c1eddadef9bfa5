/**
 * distribKV beside Redis, in the same run: a one-node cluster (a leader, no replica; its own
 * child process on 127.0.0.1, like the loopback cluster's nodes) against one redis-server, at
 * the same connections and value size, each loaded by the fastest generator it has: ours with
 * autocannon over raw HTTP (raw-load.ts), Redis with redis-benchmark (redis-load.ts).
 *
 *   ours                                    Redis
 *   GET /kv/{key}                           GET
 *   PUT /kv/{key}?acks=1                    SET, appendfsync no
 *   PUT /kv/{key}?acks=1&sync=true          SET, appendfsync always
 *   POST /batch, 16 puts a request          SET -P 16
 *   a multi-get of 16 keys (not yet served) GET -P 16
 *
 * Then the crossover: POST /batch with more operations a request (`--batch-sizes`), smallest
 * first, until ours passes Redis -P 16 in operations per second. Batch reads are probed first
 * (`probeMultiGet`) and measured the same way once a node serves them.
 *
 * Each pair runs ours then Redis, one after the other, after the same quiet wait; ratios are
 * ours / Redis in operations per second. Between them, for every pair but the durable one,
 * the ceiling: one bare node:http server (ceiling-server.ts) under ours' exact load, which
 * says how much of the gap is Node's HTTP and the load generator rather than the store (it
 * answers a multi-get with no values, so for reads it is a bound, not a twin).
 */
import { execFileSync } from 'node:child_process';
import type { Closer } from './arena.ts';
import { loadKeys, type BenchCluster } from './arena.ts';
import { loopbackPlaces, startCeiling } from './ceiling.ts';
import { keyOf, keysByShard } from './keys.ts';
import { startLocalCluster } from './local-cluster.ts';
import { measure, type MeasureContext } from './measure.ts';
import { OPS_PER_SECOND_MAX, REDIS_PIPELINE_DEPTH, type BenchOptions } from './options.ts';
import { ProcessGroup } from './processes.ts';
import { runRaw } from './raw-load.ts';
import type { RunFigures } from './recorder.ts';
import { RedisLoad, type RedisRun } from './redis-load.ts';
import { startRedis, type RedisServer, type RedisTools } from './redis-server.ts';
import { batchWorkload, multiGetRequest, SINGLE_NODE, type Workload } from './workloads.ts';

/** The warm-up of a redis-benchmark run also sizes the measured one, so it is never skipped. */
const REDIS_WARMUP_SECONDS_MIN = 0.3;

export interface VersusSide {
  title: string;
  /** Operations per request (1, or the batch size); Redis: always 1 per command. */
  opsPerRequest: number;
  figures: RunFigures;
  /** Operations (not requests) per second. */
  opsPerSec: number;
}

export interface VersusRow {
  what: string;
  ours: VersusSide;
  /** The bare server under ours' load; none for the durable pair (it has nothing to fsync). */
  ceiling: VersusSide | undefined;
  redis: VersusSide & { command: string };
  /** ours.opsPerSec / redis.opsPerSec */
  ratio: number;
}

export interface CrossoverStep {
  batchOps: number;
  ours: VersusSide;
  ratio: number;
}

/** Ours with growing batches against one Redis `-P 16` figure. */
export interface Crossover {
  kind: 'put' | 'get';
  redisOpsPerSec: number;
  steps: CrossoverStep[];
  /** The smallest batch size at which ours passed Redis, if one did. */
  passedAt: number | undefined;
}

export interface VersusReport {
  redisVersion: string;
  rows: VersusRow[];
  crossovers: Crossover[];
  /** Comparisons that could not run, each with why (one line). */
  skipped: string[];
}

interface Bench {
  context: MeasureContext;
  options: BenchOptions;
  group: ProcessGroup;
  ours: { address: string; keys: Uint32Array };
  ceiling: { address: string; keys: Uint32Array };
  redis: RedisServer;
  tools: RedisTools;
}

/** Starts the one-node cluster and Redis, runs every comparison, and leaves both to `closers`. */
export async function runVersusRedis(context: MeasureContext & { groups: ProcessGroup[] }, options: BenchOptions, tools: RedisTools, closers: Closer[]): Promise<VersusReport> {
  const group = new ProcessGroup();
  context.groups.push(group);
  let remove: (() => Promise<void>) | undefined;
  closers.push(async () => {
    await group.stopAll();
    await remove?.();
  });
  const local = await startLocalCluster(group, { shards: 1, replicas: 0, logLevel: options.nodeLogLevel, profileDir: undefined });
  remove = local.remove;
  const cluster: BenchCluster = { topology: local.topology, leaders: local.leaders, internalHeaders: {} };
  const loaded = await loadKeys(cluster, options.keys, options.valueBytes, options.seed);
  const redis = await startRedis(group, tools, closers);
  await redis.preload(options.keys, options.valueBytes);
  context.say(`  Redis: one-node cluster and redis-server ${redisVersion(tools)} loaded with ${options.keys.toLocaleString('en-US')} keys (ours in ${loaded.toFixed(1)} s)`);
  const ceiling = await startCeiling(await loopbackPlaces(group, 1), local.dir, options.valueBytes, local.topology.toJson().ring.vnodes);
  const keys = [...keysByShard(cluster.topology, options.keys, options.seed).values()][0]!;
  const bench: Bench = { context, options, group, ours: { address: local.leaders[0]!, keys }, ceiling: { address: ceiling.addresses[0]!, keys }, redis, tools };
  return compareAll(bench);
}

async function compareAll(bench: Bench): Promise<VersusReport> {
  const rows: VersusRow[] = [];
  const skipped: string[] = [];
  rows.push(await pair(bench, 'GET', SINGLE_NODE.get, 'get', 1, 'GET'));
  rows.push(await pair(bench, 'PUT vs SET', SINGLE_NODE.put, 'set', 1, 'SET, appendfsync no'));
  await bench.redis.command('CONFIG', 'SET', 'appendfsync', 'always');
  rows.push(await pair(bench, 'durable PUT vs SET', SINGLE_NODE['put-sync'], 'set', 1, 'SET, appendfsync always', false));
  await bench.redis.command('CONFIG', 'SET', 'appendfsync', 'no');
  const depth = REDIS_PIPELINE_DEPTH;
  const batchPut = await pair(bench, `batch of ${depth} puts vs SET -P ${depth}`, batchWorkload('put', depth), 'set', depth, `SET -P ${depth}, appendfsync no`);
  rows.push(batchPut);
  const crossovers = [await crossover(bench, 'put', batchPut)];
  const refused = await probeMultiGet(bench.ours.address, bench.ours.keys);
  if (refused === undefined) {
    const batchGet = await pair(bench, `multi-get of ${depth} vs GET -P ${depth}`, batchWorkload('get', depth), 'get', depth, `GET -P ${depth}`);
    rows.push(batchGet);
    crossovers.push(await crossover(bench, 'get', batchGet));
  } else {
    skipped.push(`batch reads (multi-get of ${depth} vs GET -P ${depth}): ${refused}. Needs a route that reads many keys in one request (bench/cluster/workloads.ts, multiGetRequest, says the shape expected)`);
    bench.context.say(`  skipping batch reads: ${refused}`);
  }
  return { redisVersion: redisVersion(bench.tools), rows, crossovers, skipped };
}

/** Ours on `workload`, the ceiling on the same (unless `withCeiling` is false), then Redis on `test` pipelined `pipeline` deep. */
async function pair(bench: Bench, what: string, workload: Workload, test: RedisRun['test'], pipeline: number, redisTitle: string, withCeiling = true): Promise<VersusRow> {
  const ours = await runHttp(bench, workload, 'ours');
  const ceiling = withCeiling ? await runHttp(bench, workload, 'ceiling') : undefined;
  const { options, context, group, redis } = bench;
  const load = new RedisLoad({ benchmark: bench.tools.benchmark, port: redis.port, test, connections: options.connections, valueBytes: options.valueBytes, keys: options.keys, pipeline });
  const label = `${what} (Redis)`;
  const figures = await measure(context, group, label, (seconds) => load.load(seconds), options.seconds, Math.max(REDIS_WARMUP_SECONDS_MIN, options.warmupSeconds));
  const theirs = { title: redisTitle, command: load.commandLine, opsPerRequest: 1, figures, opsPerSec: figures.opsPerSec };
  const row: VersusRow = { what, ours, ceiling, redis: theirs, ratio: theirs.opsPerSec === 0 ? 0 : ours.opsPerSec / theirs.opsPerSec };
  context.say(`  ${what}: ours ${Math.round(ours.opsPerSec)} ops/s${ceiling ? `, ceiling ${Math.round(ceiling.opsPerSec)} ops/s` : ''}, Redis ${Math.round(theirs.opsPerSec)} ops/s: ${row.ratio.toFixed(2)}x${ours.figures.failed > 0 ? `, ${ours.figures.failed} failed` : ''}`);
  return row;
}

/** `workload` over raw HTTP on the one node (`ours`) or on the bare server (`ceiling`). */
async function runHttp(bench: Bench, workload: Workload, side: 'ours' | 'ceiling'): Promise<VersusSide> {
  const { options, context, group } = bench;
  const opsPerRequest = workload.batch?.ops ?? 1;
  const label = `${workload.name} (${side === 'ours' ? 'one node' : 'ceiling'})`;
  const figures = await measure(context, group, label, (seconds, seedOffset) => runRaw({
    label, workload, targets: [bench[side]], connections: options.connections, seconds,
    opsMax: Math.ceil(seconds * OPS_PER_SECOND_MAX), value: Buffer.alloc(options.valueBytes, 0x62), seed: options.seed + seedOffset,
  }), options.seconds, options.warmupSeconds);
  if (group.failures().length > 0) throw new Error(`a child process died during ${label}:\n${group.failures().join('\n')}`);
  return { title: workload.title, opsPerRequest, figures, opsPerSec: figures.opsPerSec * opsPerRequest };
}

/** Batches of `--batch-sizes` operations, smallest first, until ours passes Redis -P 16; the pair's run stands for its own size. */
async function crossover(bench: Bench, kind: 'put' | 'get', measured: VersusRow): Promise<Crossover> {
  const redisOpsPerSec = measured.redis.opsPerSec;
  const steps: CrossoverStep[] = [];
  for (const batchOps of bench.options.batchSizes) {
    const ours = batchOps === measured.ours.opsPerRequest ? measured.ours : await runHttp(bench, batchWorkload(kind, batchOps), 'ours');
    const ratio = redisOpsPerSec === 0 ? 0 : ours.opsPerSec / redisOpsPerSec;
    steps.push({ batchOps, ours, ratio });
    bench.context.say(`  crossover (${kind}): ${batchOps} a batch, ${Math.round(ours.opsPerSec)} ops/s: ${ratio.toFixed(2)}x Redis -P ${REDIS_PIPELINE_DEPTH}`);
    if (ratio >= 1) return { kind, redisOpsPerSec, steps, passedAt: batchOps };
  }
  return { kind, redisOpsPerSec, steps, passedAt: undefined };
}

/** Undefined if the node answers a multi-get of one loaded key with 2xx; else what it answered, in one line. */
export async function probeMultiGet(address: string, keys: Uint32Array): Promise<string | undefined> {
  const request = multiGetRequest([keyOf(keys[0]!)]);
  const res = await fetch(`http://${address}${request.path}`, { method: request.method, body: request.body, headers: { 'content-type': 'application/json' } });
  const text = (await res.text()).replace(/\s+/g, ' ').slice(0, 200);
  return res.status >= 200 && res.status < 300 ? undefined : `the node answers ${request.method} ${request.path} with a get operation ${res.status} ${text}`;
}

function redisVersion(tools: RedisTools): string {
  const text = execFileSync(tools.server, ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(text)?.[1] ?? text.trim();
}
