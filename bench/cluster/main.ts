/**
 * `npm run bench:cluster`: distribKV's cluster under load, beside the ceiling of the same
 * machine. Starts a local cluster (default 3 shards, each a leader and a replica) and as many
 * bare node:http servers as shards, all child processes on 127.0.0.1; loads the keys; then
 * for each workload and each way of sending (raw HTTP with autocannon, and the client
 * library), runs the cluster and then the ceiling under the same load, after a warm-up each.
 * Prints a Markdown table and the targets of issue 8, and writes JSON and an SVG chart to
 * bench/results/. Every child is stopped at the end, on Ctrl-C and on any error.
 *
 *   npm run bench:cluster [-- --quick] [--shards 3] [--replicas 1] [--connections 50] …
 *
 * docs/benchmarks.md explains the method and shows results.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '../../net/index.ts';
import { startCeiling, type Ceiling } from './ceiling.ts';
import { renderChart } from './chart.ts';
import { runClient } from './client-load.ts';
import { keyOf, keysByShard, permutation, Random } from './keys.ts';
import { startLocalCluster, type LocalCluster } from './local-cluster.ts';
import { LOAD_BATCH_KEYS, OPS_PER_SECOND_MAX, parseBenchArgs, USAGE, type BenchOptions, type Mode } from './options.ts';
import { machineBusySeconds, ProcessGroup, type CpuSeconds, type Role } from './processes.ts';
import { runRaw } from './raw-load.ts';
import type { RunFigures } from './recorder.ts';
import { checkTargets, cpuTable, machineInfo, markdownTable, resultDocument, targetLines, type Row } from './report.ts';
import { rawTargets, runnable, WORKLOADS, type Workload } from './workloads.ts';

/** Batches in flight while loading keys. */
const LOAD_CONCURRENCY = 4;
/** After a write workload, how long to wait at most for replicas to catch up before the next run. */
const SETTLE_WAIT_MS = 15_000;
/** Before each run, the cluster and ceiling processes must use under QUIET_CORES_MAX of CPU over a window (waiting a while at most). */
const QUIET_CORES_MAX = 0.05;
/** Other processes busier than this during a run are reported: the run's figures are skewed. */
const OTHER_CORES_WARN = 0.15;
const QUIET = { full: { windowMs: 500, waitMs: 60_000 }, quick: { windowMs: 200, waitMs: 4_000 } };

interface Side {
  name: 'ours' | 'ceiling';
  topology: LocalCluster['topology'];
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
  const group = new ProcessGroup();
  let cluster: LocalCluster | undefined;
  const cleanup = async () => {
    await group.stopAll();
    await cluster?.remove();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`bench:cluster: ${signal}; stopping every child process`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const started = performance.now();
    const startedAt = new Date().toISOString();
    say(`bench:cluster: ${options.shards} shards x (1 leader + ${options.replicas} replicas), ${options.connections} connections, ${options.seconds} s per run${options.quick ? ' (quick)' : ''}`);
    if (options.profileDir) await mkdir(options.profileDir, { recursive: true });
    cluster = await startLocalCluster(group, { shards: options.shards, replicas: options.replicas, logLevel: options.nodeLogLevel, profileDir: options.profileDir && path.resolve(options.profileDir) });
    const ceiling = await startCeiling(group, cluster.dir, options.ceilingProcesses, options.valueBytes, cluster.topology.vnodes);
    await loadKeys(cluster, options);
    const rows = await runAll(options, cluster, ceiling, group);
    await writeResults(options, startedAt, rows);
    say(`bench:cluster: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (error) {
    say(`bench:cluster: failed: ${(error as Error).stack ?? String(error)}`);
    for (const failure of group.failures()) say(failure);
    return 1;
  } finally {
    await cleanup();
  }
}

async function runAll(options: BenchOptions, cluster: LocalCluster, ceiling: Ceiling, group: ProcessGroup): Promise<Row[]> {
  const ours: Side = { name: 'ours', topology: cluster.topology, keysByShard: keysByShard(cluster.topology, options.keys, options.seed) };
  const bare: Side = { name: 'ceiling', topology: ceiling.topology, keysByShard: keysByShard(ceiling.topology, options.keys, options.seed) };
  const allKeys = permutation(options.keys, new Random(options.seed));
  const rows: Row[] = [];
  for (const name of options.workloads) {
    const workload = WORKLOADS[name];
    if (!runnable(workload, options.replicas)) {
      say(`  skipping ${name}: it needs replicas`);
      continue;
    }
    for (const mode of options.modes) {
      const mine = await measure(options, group, workload, mode, ours, allKeys);
      const theirs = await measure(options, group, workload, mode, bare, allKeys);
      const failures = group.failures();
      if (failures.length > 0) throw new Error(`a child process died during ${name} (${mode}):\n${failures.join('\n')}`);
      const row: Row = { workload: name, title: workload.title, mode, ours: mine, ceiling: theirs, ratio: theirs.opsPerSec === 0 ? 0 : mine.opsPerSec / theirs.opsPerSec };
      rows.push(row);
      say(`  ${name} (${mode}): ours ${Math.round(mine.opsPerSec)} ops/s p99 ${(mine.latencyUs.p99 / 1000).toFixed(2)} ms, ceiling ${Math.round(theirs.opsPerSec)} ops/s: ${row.ratio.toFixed(2)}x${mine.failed > 0 ? `, ${mine.failed} failed` : ''}`);
      if (workload.readShare < 1) await settle(cluster);
    }
  }
  return rows;
}

/** A warm-up run, then the measured one. */
async function measure(options: BenchOptions, group: ProcessGroup, workload: Workload, mode: Mode, side: Side, allKeys: Uint32Array): Promise<RunFigures> {
  const label = `${workload.name} ${mode} ${side.name}`;
  const run = (seconds: number, seedOffset: number) => {
    const common = { label, workload, connections: options.connections, seconds, opsMax: Math.ceil(seconds * OPS_PER_SECOND_MAX) };
    if (mode === 'client') {
      return runClient({ ...common, seed: side.topology.shards[0]!.leader, keys: allKeys, value: Buffer.alloc(options.valueBytes, 0x62), randomSeed: options.seed + seedOffset });
    }
    const targets = rawTargets(workload, side.topology).map((t) => ({ address: t.address, keys: side.keysByShard.get(t.shard)! }));
    return runRaw({ ...common, targets, value: Buffer.alloc(options.valueBytes, 0x62), seed: options.seed + seedOffset });
  };
  const quiet = options.quick ? QUIET.quick : QUIET.full;
  if (!(await group.waitQuiet(QUIET_CORES_MAX, quiet.windowMs, quiet.waitMs))) say(`  (the processes did not go quiet within ${quiet.waitMs / 1000} s before ${label}; measuring anyway)`);
  if (options.warmupSeconds > 0) await run(options.warmupSeconds, 1000);
  const cpuBefore = group.cpuSeconds();
  const waitBefore = group.waitSeconds();
  const machineBefore = machineBusySeconds();
  const figures = await run(options.seconds, 0);
  const machineAfter = machineBusySeconds();
  const cpuAfter = group.cpuSeconds();
  const waitAfter = group.waitSeconds();
  if (machineBefore !== undefined && machineAfter !== undefined) {
    const ours = Object.entries(cpuAfter).reduce((sum, [role, seconds]) => sum + seconds - (cpuBefore[role as keyof CpuSeconds] ?? 0), 0);
    figures.otherCores = Math.max(0, (machineAfter - machineBefore - ours) / figures.seconds);
    if (figures.otherCores > OTHER_CORES_WARN) say(`  (other processes kept ${figures.otherCores.toFixed(2)} cores busy during ${label}: its figures are skewed)`);
  }
  figures.cpuSeconds = Object.fromEntries(Object.entries(cpuAfter).map(([role, seconds]) => [role, seconds - (cpuBefore[role as keyof CpuSeconds] ?? 0)]));
  figures.cpuWaitShare = Object.fromEntries((Object.entries(waitAfter) as [Role, number][]).map(([role, seconds]) => [role, (seconds - (waitBefore[role] ?? 0)) / figures.seconds / Math.max(1, group.count(role))]));
  return figures;
}

/** Writes every key once, in batches of one shard's keys, so that reads find them. */
async function loadKeys(cluster: LocalCluster, options: BenchOptions): Promise<void> {
  const started = performance.now();
  const client = await Client.connect([cluster.leaders[0]!]);
  const value = Buffer.alloc(options.valueBytes, 0x61);
  try {
    const batches: string[][] = [];
    for (const indexes of keysByShard(cluster.topology, options.keys, options.seed).values()) {
      for (let at = 0; at < indexes.length; at += LOAD_BATCH_KEYS) batches.push(Array.from(indexes.subarray(at, at + LOAD_BATCH_KEYS), keyOf));
    }
    let next = 0;
    await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, async () => {
      while (next < batches.length) {
        const keys = batches[next++]!;
        await client.batch(keys.map((key) => ({ type: 'put' as const, key, value })), { acks: 1 });
      }
    }));
  } finally {
    client.close();
  }
  await settle(cluster);
  say(`  loaded ${options.keys.toLocaleString('en-US')} keys of ${options.valueBytes} bytes in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Waits (bounded) until every leader's followers have applied its whole log, so no run pays for the last one's catch-up. */
async function settle(cluster: LocalCluster): Promise<void> {
  const deadline = Date.now() + SETTLE_WAIT_MS;
  for (const leader of cluster.leaders) {
    while (Date.now() < deadline) {
      const state = (await (await fetch(`http://${leader}/internal/state`)).json()) as { replication?: { leader?: { followers?: { lagSeq: number }[] } } };
      if ((state.replication?.leader?.followers ?? []).every((f) => f.lagSeq === 0)) break;
      await delay(50);
    }
  }
}

async function writeResults(options: BenchOptions, startedAt: string, rows: Row[]): Promise<void> {
  const command = `npm run bench:cluster${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const document = resultDocument(options, command, startedAt, rows);
  const m = machineInfo();
  const subtitle = `${options.shards} shards x (leader + ${options.replicas} replica${options.replicas === 1 ? '' : 's'}), ${options.connections} connections, ${options.seconds} s per run; ${m.cores} x ${m.cpu}, Node ${m.node}; load generator on the same machine`;
  const svg = renderChart(rows, 'distribKV cluster vs a bare node:http server (the ceiling), same run', subtitle);
  await mkdir(options.outDir, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '-');
  for (const name of [`cluster-${stamp}`, 'cluster-latest']) {
    await writeFile(path.join(options.outDir, `${name}.json`), `${JSON.stringify(document, null, 2)}\n`);
    await writeFile(path.join(options.outDir, `${name}.svg`), svg);
  }
  process.stdout.write(`\n${command}\n${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}\n\n${markdownTable(rows)}\n\nCPU per request, in microseconds (all processes of a kind, summed; the load generator is this process):\n${cpuTable(rows)}\n\nTargets (ours / ceiling, same run):\n${targetLines(checkTargets(rows))}\n\nWrote ${path.join(options.outDir, `cluster-${stamp}.json`)} and .svg (also cluster-latest.*)\n`);
}

process.exitCode = await main();
