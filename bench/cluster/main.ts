/**
 * `npm run bench:cluster`: distribKV's cluster under load, beside the ceiling of the same
 * machine, and beside Redis. Starts a local cluster (default 3 shards, each a leader and a
 * replica) and as many bare node:http servers as shards, all child processes on 127.0.0.1
 * (arena.ts); with `--hosts`, a second such pair with one network namespace per node
 * (hosts-arena.ts). Loads the keys; then for each workload and each way of sending (raw HTTP
 * with autocannon, and the client library), on each network, runs the cluster and then the
 * ceiling under the same load, after a warm-up each. Then, when redis-server and
 * redis-benchmark are on PATH, a one-node cluster beside Redis (versus-redis.ts).
 * Prints Markdown tables and the targets of issues 8 and 19, and writes JSON and an SVG chart
 * to bench/results/. Every child is stopped at the end, on Ctrl-C and on any error.
 *
 *   npm run bench:cluster [-- --quick] [--shards 3] [--replicas 1] [--connections 50] [--hosts] [--no-redis] …
 *
 * docs/benchmarks.md explains the method and shows results.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadKeys, runClosers, settle, startLoopbackArena, type Arena, type Closer } from './arena.ts';
import { renderChart } from './chart.ts';
import { runClient } from './client-load.ts';
import { hostsArenaUnavailable, startHostsArena } from './hosts-arena.ts';
import { keysByShard, permutation, Random } from './keys.ts';
import { measure, type MeasureContext } from './measure.ts';
import { OPS_PER_SECOND_MAX, parseBenchArgs, USAGE, type BenchOptions, type Mode } from './options.ts';
import type { ProcessGroup } from './processes.ts';
import { runRaw } from './raw-load.ts';
import type { RunFigures } from './recorder.ts';
import { findRedis, REDIS_MISSING, type RedisTools } from './redis-server.ts';
import { checkTargets, cpuTable, hostsTable, machineInfo, markdownTable, medianRound, resultDocument, targetLines, type Row, type TargetCheck } from './report.ts';
import { runVersusRedis, type VersusReport } from './versus-redis.ts';
import { checkVersusTargets, crossoverTable, versusCpuTable, versusTable } from './versus-report.ts';
import { rawTargets, runnable, WORKLOADS, type Workload } from './workloads.ts';

interface Side {
  name: 'ours' | 'ceiling';
  topology: Arena['cluster']['topology'];
  keysByShard: Map<string, Uint32Array>;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    say(`bench:cluster: ${(error as Error).message}${(error as Error).message === USAGE ? '' : `\n${USAGE}`}`);
    return 2;
  }
  const why = options.hosts ? await hostsArenaUnavailable(options) : undefined;
  if (why !== undefined) {
    say(`bench:cluster: --hosts cannot run here: ${why}`);
    return 2;
  }
  const redis = options.redis === 'off' ? undefined : findRedis();
  if (!redis && options.redis === 'on') {
    say(`bench:cluster: --redis: ${REDIS_MISSING}`);
    return 2;
  }
  if (!redis && options.redis === 'auto') say(`bench:cluster: ${REDIS_MISSING}; running the rest without it`);
  const closers: Closer[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= runClosers(closers, (line) => say(`bench:cluster: ${line}`)));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`bench:cluster: ${signal}; stopping every child process`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const context: MeasureContext & { groups: ProcessGroup[] } = { quick: options.quick, groups: [], say };
  try {
    const started = performance.now();
    const startedAt = new Date().toISOString();
    const loadAtStart = os.loadavg();
    if (options.profileDir) await mkdir(options.profileDir, { recursive: true });
    const rows = options.redisOnly ? [] : await runCluster(context, options, closers);
    const versus = redis ? await runVersus(context, options, redis, closers) : undefined;
    await writeResults(options, startedAt, rows, versus, [loadAtStart, os.loadavg()]);
    say(`bench:cluster: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (error) {
    say(`bench:cluster: failed: ${(error as Error).stack ?? String(error)}`);
    for (const failure of context.groups.flatMap((g) => g.failures())) say(failure);
    return 1;
  } finally {
    await cleanup();
  }
}

/** The cluster's workloads on each network; its processes are stopped before it returns, so they do not idle through the Redis comparison. */
async function runCluster(context: MeasureContext & { groups: ProcessGroup[] }, options: BenchOptions, closers: Closer[]): Promise<Row[]> {
  say(`bench:cluster: ${options.shards} shards x (1 leader + ${options.replicas} replicas), ${options.connections} connections, ${options.seconds} s per run${options.quick ? ' (quick)' : ''}${options.hosts ? ', on loopback and across hosts' : ''}`);
  const own: Closer[] = [];
  closers.push(() => runClosers(own, say));
  try {
    const arenas = [await startLoopbackArena(options, own)];
    if (options.hosts) arenas.push(await startHostsArena(options, own));
    context.groups.push(...arenas.map((a) => a.group));
    for (const arena of arenas) {
      const seconds = await loadKeys(arena.cluster, options.keys, options.valueBytes, options.seed);
      say(`  loaded ${options.keys.toLocaleString('en-US')} keys of ${options.valueBytes} bytes in ${seconds.toFixed(1)} s (${arena.network})`);
    }
    return await runAll(context, options, arenas);
  } catch (error) {
    for (const failure of context.groups.flatMap((g) => g.failures())) say(failure);
    throw error;
  } finally {
    await runClosers(own, say);
    context.groups.splice(0, context.groups.length);
  }
}

async function runVersus(context: MeasureContext & { groups: ProcessGroup[] }, options: BenchOptions, redis: RedisTools, closers: Closer[]): Promise<VersusReport> {
  say(`bench:cluster: Redis beside a one-node cluster, ${options.connections} connections, ${options.valueBytes}-byte values, ${options.seconds} s per run`);
  return runVersusRedis(context, options, redis, closers);
}

/**
 * Each workload and mode, on each network in turn: ours, then the ceiling; `--rounds` times
 * over, the round with the median ratio standing for each network.
 */
async function runAll(context: MeasureContext, options: BenchOptions, arenas: readonly Arena[]): Promise<Row[]> {
  const allKeys = permutation(options.keys, new Random(options.seed));
  const sides = arenas.map((arena) => ({
    arena,
    ours: { name: 'ours', topology: arena.cluster.topology, keysByShard: keysByShard(arena.cluster.topology, options.keys, options.seed) } satisfies Side,
    bare: { name: 'ceiling', topology: arena.ceiling.topology, keysByShard: keysByShard(arena.ceiling.topology, options.keys, options.seed) } satisfies Side,
  }));
  const rows: Row[] = [];
  for (const name of options.workloads) {
    const workload = WORKLOADS[name];
    if (!runnable(workload, options.replicas)) {
      say(`  skipping ${name}: it needs replicas`);
      continue;
    }
    for (const mode of options.modes) {
      const rounds = sides.map((): Row[] => []);
      for (let round = 0; round < options.rounds; round++) {
        for (const [i, { arena, ours, bare }] of sides.entries()) {
          const mine = await measureSide(context, options, arena, workload, mode, ours, allKeys);
          const theirs = await measureSide(context, options, arena, workload, mode, bare, allKeys);
          const failures = arena.group.failures();
          if (failures.length > 0) throw new Error(`a child process died during ${name} (${mode}, ${arena.network}):\n${failures.join('\n')}`);
          const row: Row = { network: arena.network, workload: name, title: workload.title, mode, ours: mine, ceiling: theirs, ratio: theirs.opsPerSec === 0 ? 0 : mine.opsPerSec / theirs.opsPerSec, ratios: [] };
          rounds[i]!.push(row);
          say(`  ${name} (${mode}, ${arena.network}${options.rounds > 1 ? `, round ${round + 1}` : ''}): ours ${Math.round(mine.opsPerSec)} ops/s p99 ${(mine.latencyUs.p99 / 1000).toFixed(2)} ms, ceiling ${Math.round(theirs.opsPerSec)} ops/s: ${row.ratio.toFixed(2)}x${mine.failed > 0 ? `, ${mine.failed} failed` : ''}`);
          if (workload.readShare < 1) await settle(arena.cluster);
        }
      }
      rows.push(...rounds.map((r) => medianRound(r)));
    }
  }
  return rows;
}

/** A warm-up run, then the measured one, of one side of one arena. */
function measureSide(context: MeasureContext, options: BenchOptions, arena: Arena, workload: Workload, mode: Mode, side: Side, allKeys: Uint32Array): Promise<RunFigures> {
  const label = `${workload.name} ${mode} ${side.name}${arena.network === 'loopback' ? '' : ` (${arena.network})`}`;
  const run = (seconds: number, seedOffset: number) => {
    const common = { label, workload, connections: options.connections, seconds, opsMax: Math.ceil(seconds * OPS_PER_SECOND_MAX) };
    if (mode === 'client') {
      return runClient({ ...common, seed: side.topology.shards[0]!.leader, keys: allKeys, value: Buffer.alloc(options.valueBytes, 0x62), randomSeed: options.seed + seedOffset });
    }
    const targets = rawTargets(workload, side.topology).map((t) => ({ address: t.address, keys: side.keysByShard.get(t.shard)! }));
    return runRaw({ ...common, targets, value: Buffer.alloc(options.valueBytes, 0x62), seed: options.seed + seedOffset });
  };
  return measure(context, arena.group, label, run, options.seconds, options.warmupSeconds);
}

async function writeResults(options: BenchOptions, startedAt: string, rows: Row[], versus: VersusReport | undefined, loadAverages: number[][]): Promise<void> {
  const command = `npm run bench:cluster${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const versusTargets: TargetCheck[] = versus ? checkVersusTargets(versus) : [];
  const document = { ...resultDocument(options, command, startedAt, rows, versus, versusTargets), loadAverages: { start: loadAverages[0], end: loadAverages[1] } };
  const m = machineInfo();
  const loopback = rows.filter((r) => r.network === 'loopback');
  const subtitle = `${options.shards} shards x (leader + ${options.replicas} replica${options.replicas === 1 ? '' : 's'}), ${options.connections} connections, ${options.seconds} s per run; ${m.cores} x ${m.cpu}, Node ${m.node}; load generator on the same machine`;
  const svg = renderChart(rows, 'distribKV cluster vs a bare node:http server (the ceiling), same run', subtitle);
  await mkdir(options.outDir, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '-');
  for (const name of [`cluster-${stamp}`, 'cluster-latest']) {
    await writeFile(path.join(options.outDir, `${name}.json`), `${JSON.stringify(document, null, 2)}\n`);
    if (rows.length > 0) await writeFile(path.join(options.outDir, `${name}.svg`), svg);
  }
  const load = (l: number[] | undefined) => (l ?? []).map((x) => x.toFixed(2)).join(' ');
  const out = [`\n${command}`, `${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}`, `load average (1, 5, 15 min) at start ${load(loadAverages[0])}, at end ${load(loadAverages[1])}`];
  if (loopback.length > 0) {
    out.push(`\n${markdownTable(loopback)}`, '\nCPU per request, in microseconds (all processes of a kind, summed; the load generator is this process):', cpuTable(loopback));
    out.push('\nTargets (ours / ceiling, same run):', targetLines(checkTargets(rows)));
  }
  if (rows.some((r) => r.network === 'hosts')) {
    out.push('\nAcross hosts (one network namespace per node, traffic over veth links and a bridge), beside loopback:', hostsTable(rows));
    out.push('\nCPU per request across hosts:', cpuTable(rows.filter((r) => r.network === 'hosts')));
  }
  if (versus) {
    out.push(`\nBeside Redis ${versus.redisVersion} (a one-node cluster vs one redis-server; ours and the ceiling loaded by autocannon, Redis by redis-benchmark):`, versusTable(versus));
    out.push('\nCPU per operation, in microseconds (the load generator is this process, or redis-benchmark):', versusCpuTable(versus));
    out.push('\nThe batch size at which ours passes Redis -P 16:', crossoverTable(versus));
    for (const line of versus.skipped) out.push(`skipped: ${line}`);
    out.push('\nTargets (ours / Redis, same run):', targetLines(versusTargets));
  }
  out.push(`\nWrote ${path.join(options.outDir, `cluster-${stamp}.json`)}${rows.length > 0 ? ' and .svg' : ''} (also cluster-latest.*)\n`);
  process.stdout.write(out.join('\n'));
}

process.exitCode = await main();
