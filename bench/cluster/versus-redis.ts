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
 *   a multi-get of 16 keys (POST /batch)    GET -P 16
 *
 * Then the crossover: POST /batch with more operations a request (`--batch-sizes`), smallest
 * first, until ours passes Redis -P 16 in operations per second. Batch reads are probed first
 * (`probeMultiGet`) and measured the same way once a node serves them.
 *
 * Each pair runs ours then Redis, one after the other, after the same quiet wait; ratios are
 * ours / Redis in operations per second. With `--rounds N` a pair runs N times in turn and the
 * round with the median ratio stands for it, with every round's ratio beside it: on a machine
 * others share, load that comes and goes moves one round, not the median. Between them, for every pair but the durable one,
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
import { OPS_PER_SECOND_MAX, REDIS_PIPELINE_DEPTH, type BatchFormat, type BenchOptions } from './options.ts';
import { ProcessGroup } from './processes.ts';
import { runRaw } from './raw-load.ts';
import type { RunFigures } from './recorder.ts';
import { medianRound, ratioText } from './report.ts';
import { RedisLoad, type RedisRun } from './redis-load.ts';
import { startRedis, type RedisServer, type RedisTools } from './redis-server.ts';
import { batchWorkload, binaryMultiGetRequest, multiGetRequest, SINGLE_NODE, type Workload } from './workloads.ts';

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
  /** ours.opsPerSec / redis.opsPerSec, of the median round */
  ratio: number;
  /** Every round's ratio, in the order run. */
  ratios: number[];
}

export interface CrossoverStep {
  batchOps: number;
  ours: VersusSide;
  /** Redis -P 16 in the same (median) round. */
  redisOpsPerSec: number;
  ratio: number;
  ratios: number[];
}

/** Ours with growing batches, each against Redis `-P 16` in the same rounds. */
export interface Crossover {
  kind: 'put' | 'get';
  steps: CrossoverStep[];
  /** The smallest batch size at which ours passed Redis, if one did. */
  passedAt: number | undefined;
}

export interface VersusReport {
  redisVersion: string;
  /** Rounds per comparison (`--rounds`). */
  rounds: number;
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
  const local = await startLocalCluster(group, { shards: 1, replicas: 0, logLevel: options.nodeLogLevel, profileDir: options.profileDir });
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
  const depth = REDIS_PIPELINE_DEPTH;
  rows.push(await pair(bench, 'GET', SINGLE_NODE.get, redisLoad(bench, 'get', 1), 'GET'));
  rows.push(await pair(bench, 'PUT vs SET', SINGLE_NODE.put, redisLoad(bench, 'set', 1), 'SET, appendfsync no'));
  await bench.redis.command('CONFIG', 'SET', 'appendfsync', 'always');
  rows.push(await pair(bench, 'durable PUT vs SET', SINGLE_NODE['put-sync'], redisLoad(bench, 'set', 1), 'SET, appendfsync always', false));
  await bench.redis.command('CONFIG', 'SET', 'appendfsync', 'no');
  const setPipelined = redisLoad(bench, 'set', depth);
  const batchPut = await pair(bench, `batch of ${depth} puts vs SET -P ${depth}`, batchWorkload('put', depth, bench.options.batchFormat), setPipelined, `SET -P ${depth}, appendfsync no`);
  rows.push(batchPut);
  const crossovers = [await crossover(bench, 'put', batchPut, setPipelined)];
  const refused = await probeMultiGet(bench.ours.address, bench.ours.keys, bench.options.batchFormat);
  if (refused === undefined) {
    const getPipelined = redisLoad(bench, 'get', depth);
    const batchGet = await pair(bench, `multi-get of ${depth} vs GET -P ${depth}`, batchWorkload('get', depth, bench.options.batchFormat), getPipelined, `GET -P ${depth}`);
    rows.push(batchGet);
    crossovers.push(await crossover(bench, 'get', batchGet, getPipelined));
  } else {
    skipped.push(`batch reads (multi-get of ${depth} vs GET -P ${depth}): ${refused}. Needs a route that reads many keys in one request (bench/cluster/workloads.ts, multiGetRequest, says the shape expected)`);
    bench.context.say(`  skipping batch reads: ${refused}`);
  }
  return { redisVersion: redisVersion(bench.tools), rounds: bench.options.rounds, rows, crossovers, skipped };
}

function redisLoad(bench: Bench, test: RedisRun['test'], pipeline: number): RedisLoad {
  const { options, redis } = bench;
  return new RedisLoad({ benchmark: bench.tools.benchmark, port: redis.port, test, connections: options.connections, valueBytes: options.valueBytes, keys: options.keys, pipeline });
}

interface Round {
  ours: VersusSide;
  ceiling: VersusSide | undefined;
  redis: VersusSide;
  ratio: number;
}

/**
 * `--rounds` rounds of ours on `workload`, the ceiling on the same (unless `withCeiling` is
 * false), then Redis; the round with the median ratio stands for all, with every round's ratio.
 */
async function rounds(bench: Bench, label: string, workload: Workload, load: RedisLoad, withCeiling: boolean): Promise<Round & { ratios: number[] }> {
  const done: Round[] = [];
  for (let round = 0; round < bench.options.rounds; round++) {
    const ours = await runHttp(bench, workload, 'ours');
    const ceiling = withCeiling ? await runHttp(bench, workload, 'ceiling') : undefined;
    const redis = await runRedis(bench, label, load);
    done.push({ ours, ceiling, redis, ratio: redis.opsPerSec === 0 ? 0 : ours.opsPerSec / redis.opsPerSec });
  }
  return medianRound(done);
}

async function pair(bench: Bench, what: string, workload: Workload, load: RedisLoad, redisTitle: string, withCeiling = true): Promise<VersusRow> {
  const { ours, ceiling, redis, ratio, ratios } = await rounds(bench, what, workload, load, withCeiling);
  const row: VersusRow = { what, ours, ceiling, redis: { ...redis, title: redisTitle, command: load.commandLine }, ratio, ratios };
  bench.context.say(`  ${what}: ours ${Math.round(ours.opsPerSec)} ops/s${ceiling ? `, ceiling ${Math.round(ceiling.opsPerSec)} ops/s` : ''}, Redis ${Math.round(redis.opsPerSec)} ops/s: ${ratioText(ratio, ratios)}${ours.figures.failed > 0 ? `, ${ours.figures.failed} failed` : ''}`);
  return row;
}

async function runRedis(bench: Bench, what: string, load: RedisLoad): Promise<VersusSide> {
  const { options, context, group } = bench;
  const figures = await measure(context, group, `${what} (Redis)`, (seconds) => load.load(seconds), options.seconds, Math.max(REDIS_WARMUP_SECONDS_MIN, options.warmupSeconds));
  return { title: load.commandLine, opsPerRequest: 1, figures, opsPerSec: figures.opsPerSec };
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

/**
 * Batches of `--batch-sizes` operations, smallest first, each against Redis -P 16 again (the
 * same rounds as a pair), until ours passes it; the pair's own rounds stand for its size.
 */
async function crossover(bench: Bench, kind: 'put' | 'get', measured: VersusRow, load: RedisLoad): Promise<Crossover> {
  const steps: CrossoverStep[] = [];
  for (const batchOps of bench.options.batchSizes) {
    const step = batchOps === measured.ours.opsPerRequest
      ? { ours: measured.ours, redis: measured.redis, ratio: measured.ratio, ratios: measured.ratios }
      : await rounds(bench, `${kind}s, ${batchOps} a batch, vs ${load.commandLine}`, batchWorkload(kind, batchOps, bench.options.batchFormat), load, false);
    steps.push({ batchOps, ours: step.ours, redisOpsPerSec: step.redis.opsPerSec, ratio: step.ratio, ratios: step.ratios });
    bench.context.say(`  crossover (${kind}): ${batchOps} a batch, ${Math.round(step.ours.opsPerSec)} ops/s, Redis -P ${REDIS_PIPELINE_DEPTH} ${Math.round(step.redis.opsPerSec)} ops/s: ${ratioText(step.ratio, step.ratios)}`);
    if (step.ratio >= 1) return { kind, steps, passedAt: batchOps };
  }
  return { kind, steps, passedAt: undefined };
}

/** Undefined if the node answers a multi-get of one loaded key with 2xx; else what it answered, in one line. */
export async function probeMultiGet(address: string, keys: Uint32Array, format: BatchFormat): Promise<string | undefined> {
  const key = keyOf(keys[0]!);
  const request = format === 'binary' ? binaryMultiGetRequest([key]) : { ...multiGetRequest([key]), contentType: 'application/json' };
  const res = await fetch(`http://${address}${request.path}`, { method: request.method, body: request.body, headers: { 'content-type': request.contentType } });
  const text = (await res.text()).replace(/\s+/g, ' ').slice(0, 200);
  return res.status >= 200 && res.status < 300 ? undefined : `the node answers ${request.method} ${request.path} with a get operation ${res.status} ${text}`;
}

function redisVersion(tools: RedisTools): string {
  const text = execFileSync(tools.server, ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(text)?.[1] ?? text.trim();
}
