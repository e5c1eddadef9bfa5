/**
 * The cluster benchmark's settings: command-line flags, their defaults, the `--quick`
 * preset, and the limits every loop obeys. Validated once, here.
 */
import { parseArgs } from 'node:util';

export type Mode = 'raw' | 'client';
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
/** A progress line at most this often during a run. */
export const PROGRESS_INTERVAL_MS = 2000;

const FULL = { seconds: 10, warmupSeconds: 2, keys: 100_000 };
/** 20 runs of 1.2 s plus warm-ups, start-up and loading: about 45 s on a 2-core machine. */
const QUICK = { seconds: 1.2, warmupSeconds: 0.4, keys: 20_000 };

export const USAGE = `usage: npm run bench:cluster -- [--quick] [--shards N] [--replicas N] [--connections N]
  [--seconds S] [--warmup S] [--keys N] [--value-bytes N] [--workloads ${WORKLOAD_NAMES.join(',')}]
  [--modes raw,client] [--ceiling-processes N] [--out DIR] [--profile DIR] [--node-log-level LEVEL] [--seed N]`;

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
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) throw new Error(USAGE);
  const preset = values.quick ? QUICK : FULL;
  const shards = integer('--shards', values.shards, 1, SHARDS_MAX);
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

function list<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').filter(Boolean);
  const bad = items.find((item) => !allowed.includes(item as T));
  if (bad !== undefined || items.length === 0) throw new Error(`${flag} takes a comma-separated list of ${allowed.join(', ')}; got ${JSON.stringify(text)}`);
  return [...new Set(items)] as T[];
}
