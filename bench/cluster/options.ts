/**
 * The cluster benchmark's settings: command-line flags, their defaults, the `--quick`
 * preset, and the limits every loop obeys. Validated once, here.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_LIMITS } from '../../cluster/index.ts';

export type Mode = 'raw' | 'client';
/** How raw HTTP sends a POST /batch: binary (docs/formats/batch.md, what the client library sends) or JSON. */
export type BatchFormat = 'binary' | 'json';
export const BATCH_FORMATS: readonly BatchFormat[] = ['binary', 'json'];
export const MODES: readonly Mode[] = ['raw', 'client'];

export const WORKLOAD_NAMES = ['get', 'put-acks-1', 'put-acks-all', 'mix-zipf', 'replica-get'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface BenchOptions {
  shards: number;
  replicas: number;
  /** Concurrent requests in flight, across all targets. */
  connections: number;
  /** Measured seconds per run, and unmeasured warm-up seconds before it. */
  seconds: number;
  warmupSeconds: number;
  /** Keys loaded before the runs, and the value size of every write. */
  keys: number;
  valueBytes: number;
  workloads: WorkloadName[];
  modes: Mode[];
  /** Bare servers the ceiling runs on; default: as many as the shards (the processes one workload hits). */
  ceilingProcesses: number;
  outDir: string;
  quick: boolean;
  /** Write a V8 CPU profile of every node (`node --cpu-prof`) under this directory. */
  profileDir: string | undefined;
  /** The level the nodes log at (their stderr is shown only if one fails). */
  nodeLogLevel: string;
  seed: number;
  /** Redis beside a one-node cluster: `auto` when redis-server and redis-benchmark are on PATH, `on` requires them, `off` skips. */
  redis: 'auto' | 'on' | 'off';
  /** Only the Redis comparison, not the cluster's workloads. */
  redisOnly: boolean;
  /** Operations per POST /batch tried, in order, for the smallest that passes Redis `-P 16`. */
  batchSizes: number[];
  /** The body of every batch and multi-get raw HTTP sends. */
  batchFormat: BatchFormat;
  /** Also run every workload with one network namespace per node (test/hosts), beside the loopback run. */
  hosts: boolean;
  /** Times each comparison runs in turn (ours, ceiling, Redis; each network); the median round's ratio is reported. */
  rounds: number;
}

/** A run also stops after this many operations per measured second, whatever its time. */
export const OPS_PER_SECOND_MAX = 500_000;
/** Longest run accepted, in seconds; a benchmark is not a soak test. */
export const RUN_SECONDS_MAX = 600;
export const CONNECTIONS_MAX = 1024;
export const KEYS_MAX = 10_000_000;
export const VALUE_BYTES_MAX = 1024 * 1024;
export const SHARDS_MAX = 16;
export const REPLICAS_MAX = 4;
/** Keys per POST /batch while loading. */
export const LOAD_BATCH_KEYS = 1000;
/** Redis pipelines this deep (`redis-benchmark -P`), and our batch path sends as many operations per request to compare. */
export const REDIS_PIPELINE_DEPTH = 16;
/** The batch sizes searched for the crossover with Redis `-P 16`, smallest first. */
export const BATCH_SIZES_DEFAULT = [16, 32, 64, 128, 256, 512];
/** A batch holds at most what a node accepts by default (cluster.toml's `[limits] batch_ops_max`). */
export const BATCH_OPS_MAX = DEFAULT_LIMITS.batchOpsMax;
export const ROUNDS_MAX = 20;
/** A progress line at most this often during a run. */
export const PROGRESS_INTERVAL_MS = 2000;

const FULL = { seconds: 10, warmupSeconds: 2, keys: 100_000 };
/** 20 runs of 1.2 s plus warm-ups, start-up and loading: about 45 s on a 2-core machine. */
const QUICK = { seconds: 1.2, warmupSeconds: 0.4, keys: 20_000 };

export const USAGE = `usage: npm run bench:cluster -- [--quick] [--shards N] [--replicas N] [--connections N]
  [--seconds S] [--warmup S] [--keys N] [--value-bytes N] [--workloads ${WORKLOAD_NAMES.join(',')}]
  [--modes raw,client] [--ceiling-processes N] [--out DIR] [--profile DIR] [--node-log-level LEVEL] [--seed N]
  [--redis | --no-redis] [--redis-only] [--batch-sizes ${BATCH_SIZES_DEFAULT.join(',')}] [--batch-format binary|json]
  [--rounds N] [--hosts]

  --redis          compare with Redis (one-node cluster vs redis-server, same connections and value size);
                   fails if redis-server or redis-benchmark is missing. Default: when both are on PATH
  --no-redis       skip the Redis comparison
  --redis-only     run only the Redis comparison, not the cluster workloads
  --batch-sizes    operations per POST /batch tried, smallest first, until ours passes Redis -P ${REDIS_PIPELINE_DEPTH} (ops/s)
  --batch-format   the body of each POST /batch and multi-get: binary (default; docs/formats/batch.md, as the
                   client library sends them) or json
  --rounds N       run each comparison N times in turn (ours, ceiling, Redis; on each network) and report
                   the round with the median ratio, with the range of the rounds (default 1)
  --hosts          also run the workloads with one network namespace per node (traffic over veth links),
                   reported beside the loopback run; needs root and iproute2's ip, exits 2 where it cannot`;

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean', default: false },
      shards: { type: 'string', default: '3' },
      replicas: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      keys: { type: 'string' },
      'value-bytes': { type: 'string', default: '100' },
      workloads: { type: 'string', default: WORKLOAD_NAMES.join(',') },
      modes: { type: 'string', default: MODES.join(',') },
      'ceiling-processes': { type: 'string' },
      out: { type: 'string', default: 'bench/results' },
      profile: { type: 'string' },
      'node-log-level': { type: 'string', default: 'warn' },
      seed: { type: 'string', default: '42' },
      redis: { type: 'boolean' },
      'no-redis': { type: 'boolean', default: false },
      'redis-only': { type: 'boolean', default: false },
      'batch-sizes': { type: 'string', default: BATCH_SIZES_DEFAULT.join(',') },
      'batch-format': { type: 'string', default: 'binary' },
      hosts: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) throw new Error(USAGE);
  const preset = values.quick ? QUICK : FULL;
  const shards = integer('--shards', values.shards, 1, SHARDS_MAX);
  if (values.redis && values['no-redis']) throw new Error('--redis and --no-redis contradict each other; give one');
  if (values['redis-only'] && values['no-redis']) throw new Error('--redis-only and --no-redis contradict each other; give one');
  if (values['redis-only'] && values.hosts) throw new Error('--redis-only runs no cluster workloads, so --hosts would measure nothing; give one');
  return {
    shards,
    replicas: integer('--replicas', values.replicas, 0, REPLICAS_MAX),
    connections: integer('--connections', values.connections, 1, CONNECTIONS_MAX),
    seconds: number('--seconds', values.seconds ?? String(preset.seconds), 0.1, RUN_SECONDS_MAX),
    warmupSeconds: number('--warmup', values.warmup ?? String(preset.warmupSeconds), 0, RUN_SECONDS_MAX),
    keys: integer('--keys', values.keys ?? String(preset.keys), 1, KEYS_MAX),
    valueBytes: integer('--value-bytes', values['value-bytes'], 0, VALUE_BYTES_MAX),
    workloads: list('--workloads', values.workloads, WORKLOAD_NAMES),
    modes: list('--modes', values.modes, MODES),
    ceilingProcesses: integer('--ceiling-processes', values['ceiling-processes'] ?? String(shards), 1, SHARDS_MAX),
    outDir: values.out,
    quick: values.quick,
    profileDir: values.profile,
    nodeLogLevel: values['node-log-level'],
    seed: integer('--seed', values.seed, 0, 2 ** 32 - 1),
    redis: values.redis || values['redis-only'] ? 'on' : values['no-redis'] ? 'off' : 'auto',
    redisOnly: values['redis-only'],
    batchSizes: batchSizes(values['batch-sizes']),
    batchFormat: batchFormat(values['batch-format']),
    hosts: values.hosts,
    rounds: integer('--rounds', values.rounds, 1, ROUNDS_MAX),
  };
}

function number(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${flag} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = number(flag, text, min, max);
  if (!Number.isInteger(value)) throw new Error(`${flag} must be an integer, got ${JSON.stringify(text)}`);
  return value;
}

function batchSizes(text: string): number[] {
  const sizes = text.split(',').filter(Boolean).map((item) => integer('--batch-sizes', item, 1, BATCH_OPS_MAX));
  if (sizes.length === 0) throw new Error(`--batch-sizes takes a comma-separated list of operations per batch, got ${JSON.stringify(text)}`);
  return [...new Set(sizes)].sort((a, b) => a - b);
}

function batchFormat(text: string): BatchFormat {
  if (!BATCH_FORMATS.includes(text as BatchFormat)) throw new Error(`--batch-format takes ${BATCH_FORMATS.join(' or ')}, got ${JSON.stringify(text)}`);
  return text as BatchFormat;
}

function list<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').filter(Boolean);
  const bad = items.find((item) => !allowed.includes(item as T));
  if (bad !== undefined || items.length === 0) throw new Error(`${flag} takes a comma-separated list of ${allowed.join(', ')}; got ${JSON.stringify(text)}`);
  return [...new Set(items)] as T[];
}
