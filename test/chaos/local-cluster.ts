/**
 * A real cluster on 127.0.0.1 for the chaos and failover tests: S shards of a leader and R
 * replicas each, and the control plane either on 3 nodes of its own (`dedicated`: listed in
 * `cluster.controllers`, holding no shard, so killing shard nodes never touches the control
 * plane's majority) or on the config's default (`colocated`: the shards' first nodes, as in
 * cluster.toml). Nodes are real processes (`node --import tsx cluster/node.ts`, spawned
 * directly, so kill -9 and SIGSTOP reach the node), started by test/hosts/node-launch.ts's
 * command line and config text, at log level info: the tests read the control plane's
 * elections and the nodes' role changes from their JSON log lines (`logLines`).
 *
 * Why not test/helpers/cluster-harness.ts's startCluster: its nodes must be ready within 30 s,
 * and twelve nodes starting at once on two busy cores took 65 s here; this harness waits
 * START_WAIT_MS, keeps every process a node address ever had (a restarted node's earlier
 * lines stay readable), and reads the committed metadata from the controllers.
 *
 * Cleanup: `close()` kills every node and removes the directory; a synchronous exit cleanup
 * (test/helpers/exit-cleanup.ts) does the same if the process ends first (Ctrl-C included).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Metadata, ShardMeta } from '../../cluster/control/metadata.ts';
import { defaultControllers } from '../../protocol/config.ts';
import { NodeProcess } from '../helpers/cluster-harness.ts';
import { onExitCleanup } from '../helpers/exit-cleanup.ts';
import { freePorts } from '../helpers/free-ports.ts';
import { clusterConfigText, nodeCommand, type ShardLayout } from '../hosts/node-launch.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Bound on a node becoming ready (first start of many nodes at once on two busy cores). */
export const START_WAIT_MS = 180_000;
const POLL_MS = 100;
const PROBE_TIMEOUT_MS = 2_000;

export type ControllerPlacement = 'dedicated' | 'colocated';

export interface LocalClusterOptions {
  shards: number;
  /** Replicas per shard. */
  replicas: number;
  controllers: ControllerPlacement;
  replicationToml?: string;
  controlToml?: string;
  /** The nodes' --log-level; default info (the tests read role changes from the log). */
  logLevel?: string;
}

/** One JSON log line of a node, with the address of the node that wrote it and its time in ms since the epoch. */
export interface LogLine {
  node: string;
  timeMs: number;
  message: string;
  fields: Record<string, unknown>;
}

export class LocalCluster {
  readonly dir: string;
  readonly configPath: string;
  readonly shards: ShardLayout[];
  /** Every controller's address (dedicated ones hold no shard). */
  readonly controllers: string[];
  /** Every node's address: the shards' nodes, then dedicated controllers. */
  readonly addresses: string[];
  /** Every process each address has had, oldest first. */
  private readonly processes = new Map<string, NodeProcess[]>();
  private readonly unregister: () => void;
  private readonly logLevel: string;
  private closed = false;

  private constructor(options: LocalClusterOptions, ports: number[]) {
    const perShard = 1 + options.replicas;
    const address = (i: number) => `127.0.0.1:${ports[i]}`;
    this.shards = Array.from({ length: options.shards }, (_, s) => ({
      name: `shard-${s}`,
      leader: address(s * perShard),
      replicas: Array.from({ length: options.replicas }, (_, r) => address(s * perShard + 1 + r)),
    }));
    const shardNodes = this.shards.flatMap((s) => [s.leader, ...s.replicas]);
    const dedicated = options.controllers === 'dedicated' ? [0, 1, 2].map((i) => address(shardNodes.length + i)) : [];
    this.controllers = dedicated.length > 0 ? dedicated : [...defaultControllers(this.shards)];
    this.addresses = [...shardNodes, ...dedicated];
    this.logLevel = options.logLevel ?? 'info';
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'distribkv-chaos-'));
    const dir = this.dir;
    const processes = this.processes;
    this.unregister = onExitCleanup(() => {
      for (const list of processes.values()) for (const p of list) if (p.running && p.pid) process.kill(p.pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    this.configPath = path.join(this.dir, 'cluster.toml');
    writeFileSync(this.configPath, clusterConfigText({
      shards: this.shards, controllers: dedicated.length > 0 ? dedicated : undefined,
      replicationToml: options.replicationToml, controlToml: options.controlToml,
    }));
  }

  /** Writes the config and starts every node (all at once), waiting until each is ready. */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const count = options.shards * (1 + options.replicas) + (options.controllers === 'dedicated' ? 3 : 0);
    const cluster = new LocalCluster(options, await freePorts(count));
    try {
      await Promise.all(cluster.addresses.map((a) => cluster.startNode(a)));
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  dataDir(address: string): string {
    return path.join(this.dir, 'data', address.replace(':', '_'));
  }

  /** The node's current (latest) process. */
  node(address: string): NodeProcess {
    const p = this.processes.get(address)?.at(-1);
    if (!p) throw new Error(`local cluster: no node was started at ${address}`);
    return p;
  }

  running(address: string): boolean {
    return this.processes.get(address)?.at(-1)?.running ?? false;
  }

  /** Starts (or restarts) the node at `address` on its data directory; resolves once it is ready. */
  async startNode(address: string, waitMs = START_WAIT_MS): Promise<NodeProcess> {
    assert.ok(!this.running(address), `local cluster: the node at ${address} is still running`);
    const launch = nodeCommand({ configPath: this.configPath, address, dataDir: this.dataDir(address), bindHost: '127.0.0.1', logLevel: this.logLevel });
    const child = spawn(launch.command, launch.args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...launch.env } });
    const node = NodeProcess.adopt(address, this.dataDir(address), child);
    this.processes.set(address, [...(this.processes.get(address) ?? []), node]);
    await waitReady(node, waitMs);
    return node;
  }

  /** kill -9; resolves once the process is gone. */
  async kill(address: string): Promise<void> {
    await this.node(address).stop('SIGKILL');
  }

  /** SIGTERM (a leader hands its shard over first); resolves with how it exited. */
  terminate(address: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.node(address).stop('SIGTERM');
  }

  /** The committed metadata, as the first controller that answers has applied it. */
  async metadata(): Promise<Metadata> {
    const failures: string[] = [];
    for (const controller of this.controllers) {
      if (!this.running(controller)) continue;
      try {
        const res = await fetch(`http://${controller}/internal/meta?after=0&wait_ms=0`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
        if (res.status === 200) return await res.json() as Metadata;
        failures.push(`${controller}: ${res.status}`);
      } catch (error) {
        failures.push(`${controller}: ${(error as Error).message}`);
      }
    }
    throw new Error(`local cluster: no controller answered GET /internal/meta (${failures.join('; ') || 'none running'})`);
  }

  async shardMeta(name: string): Promise<ShardMeta> {
    const shard = (await this.metadata()).shards.find((s) => s.name === name);
    if (!shard) throw new Error(`local cluster: the metadata has no shard ${name}`);
    return shard;
  }

  /** Every JSON line the nodes at `addresses` (default: all) have logged, in each node's order. */
  logLines(addresses: readonly string[] = this.addresses): LogLine[] {
    const out: LogLine[] = [];
    for (const address of addresses) {
      for (const p of this.processes.get(address) ?? []) out.push(...parseLogLines(address, p.stderr));
    }
    return out;
  }

  /** Kills every node and removes the directory. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await Promise.all([...this.processes.values()].flat().map((p) => p.kill()));
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
      this.unregister();
    }
  }
}

/** Polls /healthz until the node says it is ready; fails early, with its log, if it exits. */
export async function waitReady(node: NodeProcess, waitMs = START_WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!node.running) throw new Error(`node ${node.address} exited before it was ready:\n${node.stderr.slice(-4000)}`);
    try {
      const res = await fetch(`http://${node.address}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      const body = await res.json() as { ready?: boolean; waiting?: string };
      if (res.status === 200 && body.ready) return;
      last = `${res.status}, waiting for ${body.waiting ?? '?'}`;
    } catch {
      // Not listening yet, or too busy to answer in time: poll again.
    }
    await delay(POLL_MS);
  }
  throw new Error(`node ${node.address} not ready within ${waitMs} ms (${last}):\n${node.stderr.slice(-4000)}`);
}

/** The JSON lines of a node's stderr (other lines, e.g. a stack trace, are skipped). */
export function parseLogLines(node: string, text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const { time, message, ...fields } = JSON.parse(line) as { time?: string; message?: string };
      const timeMs = Date.parse(time ?? '');
      if (typeof message === 'string' && Number.isFinite(timeMs)) out.push({ node, timeMs, message, fields });
    } catch {
      // A line cut off by kill -9: nothing to read in it.
    }
  }
  return out;
}
