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
 * Why not test/helpers/cluster-harness.ts's startCluster: its nodes must be ready within 90 s,
 * and twelve nodes starting at once on two busy cores took 65-180 s here; this harness waits
 * READY_WAIT_MS (test/helpers/wait-ready.ts), keeps every process a node address ever had (a restarted node's earlier
 * lines stay readable), and reads the committed metadata from the controllers.
 *
 * Cleanup: `close()` kills every node and removes the directory; a synchronous exit cleanup
 * (test/helpers/exit-cleanup.ts) does the same if the process ends first (Ctrl-C included).
 * With CHAOS_LOG_DIR set, `close()` first writes every node's whole log there, one file per
 * process (`<address>-<n>.log`), for reading a failure afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Metadata, ShardMeta } from '../../cluster/control/metadata.ts';
import { defaultControllers } from '../../protocol/config.ts';
import { NodeProcess } from '../helpers/cluster-harness.ts';
import { onExitCleanup } from '../helpers/exit-cleanup.ts';
import { freePorts } from '../helpers/free-ports.ts';
import { parseLogLines, type LogLine } from '../helpers/log-lines.ts';
import { READY_WAIT_MS, waitReady } from '../helpers/wait-ready.ts';
import { clusterConfigText, nodeCommand, type ShardLayout } from '../hosts/node-launch.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Generous: at a load average of 50 on 2 cores, a live controller took over 2 s to answer. */
const PROBE_TIMEOUT_MS = 10_000;
const WHOLE_POLL_MS = 200;
const TIMELINE_LINES_MAX = 150;
/** A failure's timeline starts this long before the wait that failed (what led to it). */
const TIMELINE_BEFORE_MS = 30_000;

export type { LogLine };

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
  async startNode(address: string, waitMs = READY_WAIT_MS): Promise<NodeProcess> {
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

  /**
   * The committed metadata: the newest version any running controller answers with (one that
   * was stopped or cut off answers with what it had applied then, so the highest version wins).
   */
  async metadata(): Promise<Metadata> {
    const failures: string[] = [];
    const answers = await Promise.all(this.controllers.filter((c) => this.running(c)).map(async (controller) => {
      try {
        const res = await fetch(`http://${controller}/internal/meta?after=0&wait_ms=0`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
        if (res.status === 200) return await res.json() as Metadata;
        failures.push(`${controller}: ${res.status}`);
      } catch (error) {
        failures.push(`${controller}: ${(error as Error).message}`);
      }
      return undefined;
    }));
    const newest = answers.reduce<Metadata | undefined>((best, m) => (m && (!best || m.version > best.version) ? m : best), undefined);
    if (!newest) throw new Error(`local cluster: no controller answered GET /internal/meta (${failures.join('; ') || 'none running'})`);
    return newest;
  }

  async shardMeta(name: string): Promise<ShardMeta> {
    const shard = (await this.metadata()).shards.find((s) => s.name === name);
    if (!shard) throw new Error(`local cluster: the metadata has no shard ${name}`);
    return shard;
  }

  /**
   * Waits until the cluster is whole (waitWhole) and its metadata has not changed for `quietMs`:
   * no election, no in-sync change. A start or a restart on a busy machine can churn terms for
   * a while; a test that times a step waits for this before the step, so each step's failures
   * are its own.
   */
  async waitSettled(quietMs: number, waitMs = READY_WAIT_MS): Promise<void> {
    const deadline = Date.now() + waitMs;
    let version = -1;
    let since = Date.now();
    while (Date.now() < deadline) {
      await this.waitWhole(Math.max(1, deadline - Date.now()));
      const now = (await this.metadata()).version;
      if (now !== version) {
        version = now;
        since = Date.now();
      } else if (Date.now() - since >= quietMs) {
        return;
      }
      await delay(WHOLE_POLL_MS);
    }
    throw new Error(`local cluster: the metadata kept changing for ${waitMs} ms (version ${version}); the nodes logged:\n${this.timeline(deadline - waitMs)}`);
  }

  /** `<count> × <message>: <error>; …` for the lines the nodes logged at level error (none in a healthy run), or `none`. */
  errorsLogged(): string {
    const counts = new Map<string, number>();
    for (const l of this.logLines().filter((x) => x.fields['level'] === 'error')) {
      const what = `${l.message}: ${String(l.fields['error'] ?? '').slice(0, 120)}`;
      counts.set(what, (counts.get(what) ?? 0) + 1);
    }
    return counts.size === 0 ? 'none' : [...counts].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${n} × ${what}`).join('; ');
  }

  /** Waits until every node runs and every shard's committed in-sync set holds all its members. */
  async waitWhole(waitMs = READY_WAIT_MS): Promise<void> {
    const deadline = Date.now() + waitMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const short = (await this.metadata()).shards.filter((s) => !s.members.every((m) => s.inSync.includes(m) && this.running(m)));
        if (short.length === 0 && this.addresses.every((a) => this.running(a))) return;
        last = short.map((s) => `${s.name} in sync: ${s.inSync.join(', ')}`).join('; ');
      } catch (error) {
        last = (error as Error).message;
      }
      await delay(WHOLE_POLL_MS);
    }
    throw new Error(`local cluster: not whole again within ${waitMs} ms (${last}); the nodes logged since shortly before:\n${this.timeline(deadline - waitMs - TIMELINE_BEFORE_MS)}`);
  }

  /** The nodes' log lines from `sinceMs` to `untilMs` (ms since the epoch), merged in time order, at most `linesMax` (the last ones): for failure messages. */
  timeline(sinceMs: number, untilMs = Infinity, linesMax = TIMELINE_LINES_MAX): string {
    const lines = this.logLines().filter((l) => l.timeMs >= sinceMs && l.timeMs <= untilMs).sort((a, b) => a.timeMs - b.timeMs).slice(-linesMax);
    return lines.map((l) => `${new Date(l.timeMs).toISOString().slice(11, 23)} ${l.node} ${String(l.fields['level'])} ${l.message} ${JSON.stringify(omit(l.fields, ['level', 'pid'])).slice(0, 300)}`).join('\n');
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
      const logDir = process.env['CHAOS_LOG_DIR'];
      if (logDir) {
        mkdirSync(logDir, { recursive: true });
        for (const [address, list] of this.processes) list.forEach((p, i) => writeFileSync(path.join(logDir, `${address.replace(':', '_')}-${i}.log`), p.stderr));
      }
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
      this.unregister();
    }
  }
}

function omit(fields: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([k]) => !keys.includes(k)));
}
