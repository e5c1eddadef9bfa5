/**
 * Where one side-by-side comparison runs: a cluster (ours) and the ceiling's bare servers on
 * the same network, with one ProcessGroup holding every process of both for the CPU figures.
 *
 * - `loopback`: every node and bare server a child process on 127.0.0.1 (local-cluster.ts);
 * - `hosts` (hosts-arena.ts): one network namespace per node (test/hosts), the bare servers
 *   beside the leaders in theirs, the load generator in the root namespace, so every request
 *   and every replication frame crosses veth links and a bridge.
 *
 * Also what every cluster of the benchmark needs before a run: its keys loaded, and its
 * replicas caught up (`settle`), so no run pays for the last one's writes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Topology } from '../../cluster/index.ts';
import { Client } from '../../net/index.ts';
import { loopbackPlaces, startCeiling, type Ceiling } from './ceiling.ts';
import { keyOf, keysByShard } from './keys.ts';
import { startLocalCluster } from './local-cluster.ts';
import { LOAD_BATCH_KEYS, type BenchOptions } from './options.ts';
import { ProcessGroup } from './processes.ts';

export type Network = 'loopback' | 'hosts';

/** Batches in flight while loading keys. */
const LOAD_CONCURRENCY = 4;
/** After a write workload, how long to wait at most for replicas to catch up before the next run. */
const SETTLE_WAIT_MS = 15_000;
const SETTLE_POLL_MS = 50;

/** A running cluster as the benchmark drives it. */
export interface BenchCluster {
  topology: Topology;
  leaders: string[];
  /** Headers /internal/ routes need (the token, where the nodes have one). */
  internalHeaders: Record<string, string>;
}

export interface Arena {
  network: Network;
  /** Every process of this arena: the nodes (leader, replica) and the bare servers (ceiling). */
  group: ProcessGroup;
  cluster: BenchCluster;
  ceiling: Ceiling;
}

/** Something to undo at the end, also on Ctrl-C and on error; `runClosers` runs them newest first. */
export type Closer = () => Promise<void>;

/** Runs and removes every closer in `closers`, newest first; a failing one is reported and the rest still run. */
export async function runClosers(closers: Closer[], report: (line: string) => void): Promise<void> {
  for (let close = closers.pop(); close; close = closers.pop()) {
    await close().catch((error: unknown) => report(`cleanup failed: ${(error as Error).stack ?? String(error)}`));
  }
}

/** The loopback arena: the cluster and the ceiling as children on 127.0.0.1; `closers` gets what undoes it. */
export async function startLoopbackArena(options: BenchOptions, closers: Closer[]): Promise<Arena> {
  const group = new ProcessGroup();
  let remove: (() => Promise<void>) | undefined;
  closers.push(async () => {
    await group.stopAll();
    await remove?.();
  });
  const local = await startLocalCluster(group, { shards: options.shards, replicas: options.replicas, logLevel: options.nodeLogLevel, profileDir: options.profileDir });
  remove = local.remove;
  const ceiling = await startCeiling(await loopbackPlaces(group, options.ceilingProcesses), local.dir, options.valueBytes, local.topology.toJson().ring.vnodes);
  return { network: 'loopback', group, cluster: { topology: local.topology, leaders: local.leaders, internalHeaders: {} }, ceiling };
}

/** Writes every key once, in batches of one shard's keys, so that reads find them; then settles. */
export async function loadKeys(cluster: BenchCluster, keys: number, valueBytes: number, seed: number): Promise<number> {
  const started = performance.now();
  const client = await Client.connect([cluster.leaders[0]!]);
  const value = Buffer.alloc(valueBytes, 0x61);
  try {
    const batches: string[][] = [];
    for (const indexes of keysByShard(cluster.topology, keys, seed).values()) {
      for (let at = 0; at < indexes.length; at += LOAD_BATCH_KEYS) batches.push(Array.from(indexes.subarray(at, at + LOAD_BATCH_KEYS), keyOf));
    }
    let next = 0;
    await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        await client.batch(batch.map((key) => ({ type: 'put' as const, key, value })), { acks: 1 });
      }
    }));
  } finally {
    client.close();
  }
  await settle(cluster);
  return (performance.now() - started) / 1000;
}

/** Waits (bounded) until every leader's followers have applied its whole log. */
export async function settle(cluster: BenchCluster): Promise<void> {
  const deadline = Date.now() + SETTLE_WAIT_MS;
  for (const leader of cluster.leaders) {
    while (Date.now() < deadline) {
      const res = await fetch(`http://${leader}/internal/state`, { headers: cluster.internalHeaders });
      if (res.status !== 200) throw new Error(`GET http://${leader}/internal/state answered ${res.status}: ${await res.text()}`);
      const state = (await res.json()) as { replication?: { leader?: { followers?: { lagSeq: number }[] } } };
      if ((state.replication?.leader?.followers ?? []).every((f) => f.lagSeq === 0)) break;
      await delay(SETTLE_POLL_MS);
    }
  }
}
