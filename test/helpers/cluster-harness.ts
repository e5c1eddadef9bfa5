/**
 * Real node processes for integration tests. Each node is `node --import tsx cluster/node.ts`
 * spawned directly (no shell, no tsx wrapper), so a signal reaches the node itself. Ports
 * come from freePorts(), data from a fresh directory under os.tmpdir(). A test registers
 * `after(() => cluster?.close())`, which kills every child and removes the directory; if
 * starting fails half-way, startCluster cleans up what it started before rethrowing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePorts } from './free-ports.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * How long a node may take to answer /healthz after it is spawned: a bound for "eventually",
 * not a speed test. A node's start costs about 1 s of CPU (mostly loading its modules through
 * tsx); on a 2-core machine running two test files and other work it took 4-32 s (median 14 s)
 * in `npm test` beside two CPU-burning loops (issue 16, finding 14). A node that exits fails
 * at once instead.
 */
const HEALTHY_WAIT_MS = 120_000;
const EXIT_WAIT_MS = 20_000;
const POLL_MS = 50;

export interface ShardSpec {
  name: string;
  leader: string;
  replicas: string[];
}

export class NodeProcess {
  readonly address: string;
  readonly dataDir: string;
  private readonly child: ChildProcess;
  private readonly exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderrText = '';

  private constructor(address: string, dataDir: string, child: ChildProcess) {
    this.address = address;
    this.dataDir = dataDir;
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrText += chunk.toString();
    });
    this.exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static spawn(configPath: string, address: string, dataDir: string, env: Record<string, string> = {}, extraArgs: string[] = []): NodeProcess {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'cluster/node.ts', '--config', configPath, '--node', address, '--data', dataDir, ...extraArgs],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DISTRIBKV_TOKEN: '', ...env } },
    );
    return new NodeProcess(address, dataDir, child);
  }

  /**
   * Wraps a node started some other way (test/hosts starts nodes inside network namespaces).
   * REQUIRES: `child` is the node process itself (so signals reach it), with stderr piped.
   */
  static adopt(address: string, dataDir: string, child: ChildProcess): NodeProcess {
    return new NodeProcess(address, dataDir, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stderr(): string {
    return this.stderrText;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Polls /healthz until it answers 200; fails early, with the node's log, if the node exits. */
  async waitHealthy(): Promise<void> {
    const deadline = Date.now() + HEALTHY_WAIT_MS;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`node ${this.address} exited before it was healthy:\n${this.stderrText}`);
      try {
        const res = await fetch(`http://${this.address}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) return;
      } catch {
        // Not listening yet: poll again.
      }
      await delay(POLL_MS);
    }
    throw new Error(`node ${this.address} not healthy within ${HEALTHY_WAIT_MS} ms:\n${this.stderrText}`);
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited();
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return Promise.race([
      this.exitPromise,
      delay(EXIT_WAIT_MS, undefined, { ref: false }).then(() => {
        throw new Error(`node ${this.address} did not exit within ${EXIT_WAIT_MS} ms`);
      }),
    ]);
  }

  /** Sends `signal` without waiting (e.g. SIGSTOP and SIGCONT to freeze and thaw the node). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** For cleanup: SIGKILL if still running (a stopped process dies too). */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exitPromise;
  }
}

export interface ClusterOptions {
  shards: number;
  /** Replicas per shard (default 0). */
  replicas?: number;
  /** Extra TOML under [cluster] (e.g. `token = "..."`). */
  clusterToml?: string;
  /** TOML for a [limits] table. */
  limitsToml?: string;
  /** TOML for a [replication] table. */
  replicationToml?: string;
  /** Addresses to leave out at start (listed in the config, started later with `start`). */
  deferred?: (shard: ShardSpec) => string[];
  env?: Record<string, string>;
}

export interface TestCluster {
  dir: string;
  /** Where each node keeps its data: `<dataDir>/db` is its engine, `<dataDir>/node-state.json` its persisted topology. */
  dataDir(address: string): string;
  configPath: string;
  shards: ShardSpec[];
  nodes: Map<string, NodeProcess>;
  /** Starts (or restarts) the node at `address` with its own data directory and waits until healthy. */
  start(address: string, env?: Record<string, string>): Promise<NodeProcess>;
  /** Kills every node still running and removes the directory. */
  close(): Promise<void>;
}

/** Writes a config with fresh ports and starts every node; the caller must `close()` it. */
export async function startCluster(options: ClusterOptions): Promise<TestCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-test-'));
  const nodes = new Map<string, NodeProcess>();
  const close = async () => {
    await Promise.all([...nodes.values()].map((n) => n.kill()));
    await rm(dir, { recursive: true, force: true });
  };
  const replicas = options.replicas ?? 0;
  const ports = await freePorts(options.shards * (1 + replicas));
  const shards: ShardSpec[] = Array.from({ length: options.shards }, (_, i) => ({
    name: `shard-${i}`,
    leader: `127.0.0.1:${ports[i * (1 + replicas)]}`,
    replicas: Array.from({ length: replicas }, (_, j) => `127.0.0.1:${ports[i * (1 + replicas) + 1 + j]}`),
  }));
  const configPath = path.join(dir, 'cluster.toml');
  await writeFile(configPath, configToml(shards, options));
  const dataDir = (address: string) => path.join(dir, 'data', address.replace(':', '_'));
  const cluster: TestCluster = {
    dir, configPath, shards, nodes, close, dataDir,
    async start(address, env = options.env ?? {}) {
      const node = NodeProcess.spawn(configPath, address, dataDir(address), env);
      nodes.set(address, node);
      await node.waitHealthy();
      return node;
    },
  };
  const deferred = new Set(shards.flatMap((s) => options.deferred?.(s) ?? []));
  try {
    await Promise.all(shards.flatMap((s) => [s.leader, ...s.replicas]).filter((a) => !deferred.has(a)).map((a) => cluster.start(a)));
  } catch (error) {
    await close();
    throw error;
  }
  return cluster;
}

function configToml(shards: ShardSpec[], options: ClusterOptions): string {
  const lines = ['[cluster]', 'vnodes = 64', options.clusterToml ?? '', ''];
  if (options.limitsToml) lines.push('[limits]', options.limitsToml, '');
  if (options.replicationToml) lines.push('[replication]', options.replicationToml, '');
  for (const s of shards) {
    lines.push('[[shards]]', `name = "${s.name}"`, `leader = "${s.leader}"`, `replicas = [${s.replicas.map((r) => `"${r}"`).join(', ')}]`, '');
  }
  return lines.join('\n');
}
