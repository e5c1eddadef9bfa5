/**
 * A throwaway cluster for the benchmark: `shards` shards of one leader and `replicas`
 * replicas each, every node a child process (`cluster/node.ts`) on 127.0.0.1 with a port the
 * kernel picked, config and data in a fresh temporary directory that `remove()` deletes (or,
 * if the benchmark exits first, an 'exit' hook).
 * The settings are the defaults of cluster.toml, as a user would run it.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Topology } from '../../cluster/index.ts';
// The same helper the integration tests start their nodes with (loopback, kernel-chosen ports).
import { freePorts } from '../../test/helpers/free-ports.ts';
import type { ProcessGroup } from './processes.ts';
import { waitHealthy } from './processes.ts';

export interface LocalCluster {
  dir: string;
  topology: Topology;
  leaders: string[];
  replicas: string[];
  remove(): Promise<void>;
}

export interface LocalClusterOptions {
  shards: number;
  replicas: number;
  logLevel: string;
  /** Nodes write CPU profiles under this directory on exit (`node --cpu-prof`), one folder each. */
  profileDir: string | undefined;
}

/** Shard names, shared with the ceiling's topology so that keys land on the same shard index. */
export function shardName(i: number): string {
  return `shard-${i}`;
}

export async function startLocalCluster(group: ProcessGroup, options: LocalClusterOptions): Promise<LocalCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-bench-'));
  const removeAtExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeAtExit);
  const ports = await freePorts(options.shards * (1 + options.replicas));
  const shards = Array.from({ length: options.shards }, (_, i) => {
    const base = i * (1 + options.replicas);
    return { name: shardName(i), leader: `127.0.0.1:${ports[base]}`, replicas: Array.from({ length: options.replicas }, (_, j) => `127.0.0.1:${ports[base + 1 + j]}`) };
  });
  const configPath = path.join(dir, 'cluster.toml');
  const toml = ['[cluster]', 'vnodes = 128', ''];
  for (const s of shards) toml.push('[[shards]]', `name = "${s.name}"`, `leader = "${s.leader}"`, `replicas = [${s.replicas.map((r) => `"${r}"`).join(', ')}]`, '');
  await writeFile(configPath, toml.join('\n'));
  const starts = shards.flatMap((s) => [s.leader, ...s.replicas].map((address) => {
    const isLeader = address === s.leader;
    // One directory per node: tsx's loader thread writes a profile of its own beside the main thread's.
    const profileDir = options.profileDir && path.join(options.profileDir, `${isLeader ? 'leader' : 'replica'}-${address.replace(':', '_')}`);
    const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    const child = group.spawn(`node ${address}`, isLeader ? 'leader' : 'replica', nodeArgs, 'cluster/node.ts', [
      '--config', configPath, '--node', address, '--data', path.join(dir, address.replace(':', '_')), '--log-level', options.logLevel,
    ], { DISTRIBKV_TOKEN: '' });
    return waitHealthy(child, address);
  }));
  await Promise.all(starts);
  const res = await fetch(`http://${shards[0]!.leader}/cluster`);
  const topology = Topology.fromJson(await res.json());
  return {
    dir,
    topology,
    leaders: shards.map((s) => s.leader),
    replicas: shards.flatMap((s) => s.replicas),
    remove: () => {
      process.off('exit', removeAtExit);
      return rm(dir, { recursive: true, force: true });
    },
  };
}

export { freePorts };
