/**
 * Real node processes for integration tests. Each node is `node --import tsx cluster/node.ts`
 * spawned directly (no shell, no tsx wrapper), so a signal reaches the node itself. Ports
 * come from freePorts(), data from a fresh directory under os.tmpdir(). A test registers
 * `after(() => cluster?.close())`, which kills every child and removes the directory; if
 * starting fails half-way, startCluster cleans up what it started before rethrowing.
 *
 * A node listed in `proxied` is reached by the others through a TCP proxy (tcp-proxy.ts): its
 * address in the config, the one every other node dials, is the proxy's on 127.0.0.2; the node
 * itself binds the same port on 127.0.0.3 (`--bind`), where the test reaches it directly
 * (`cluster.direct(address)`). Cutting the proxy cuts the node off from every other node while
 * the test still talks to it. A node listed in `controllersProxied` reaches the control plane
 * through proxies of its own: its config (a file of its own, the same but for `controllers`)
 * names, for each controller, a proxy on 127.0.0.2 at the controller's port
 * (`cluster.controllerProxies`); the controllers' identities in the metadata do not change.
 * Proxying both ways isolates such a node from the controllers.
 *
 * To look at a failed run: with DISTRIBKV_TEST_LOGS=DIR in the environment, `close()` first
 * writes the log (stderr) of every node process the cluster ran to DIR, one file per process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './exit-cleanup.ts';
import { freePorts } from './free-ports.ts';
import { TcpProxy } from './tcp-proxy.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * How long a node may take to answer /healthz after it is spawned: a bound for "eventually",
 * not a speed test. A node's start costs about 1 s of CPU (mostly loading its modules through
 * tsx); on a 2-core machine running two test files and other work it took 4-32 s (median 14 s)
 * in `npm test` beside two CPU-burning loops (issue 16, finding 14), and a dozen nodes starting
 * at once at a load average of 40 took 80 s to listen. A node that exits fails at once instead.
 */
const HEALTHY_WAIT_MS = 180_000;
const EXIT_WAIT_MS = 90_000;
const POLL_MS = 50;
/** Where a proxied node's address (the proxy) and the node itself listen. */
const PROXY_HOST = '127.0.0.2';
const PROXIED_BIND_HOST = '127.0.0.3';

/**
 * `[control]` settings for tests (pass as `controlToml`). The defaults (a Raft election timeout
 * of 0.5-1 s, a lease of 1.5 s) are tight for a shared 2-core machine at a load average of 30
 * to 70, where a process can be starved of CPU for seconds: there the control plane's leader
 * lost its quorum every few seconds, and a live shard leader (seen streaming a snapshot) missed
 * its renewals and was failed over, which a test about something else does not expect. Tests
 * that kill leaders use the first (failovers still take seconds); tests where no leader dies
 * use the second. Timing itself is measured with the defaults (test/control/controller-failover,
 * bench/, the chaos runs).
 */
export const CONTROL_TOML_FAILOVER = ['tick_ms = 100', 'election_ticks = 20', 'lease_ms = 3000', 'lease_renew_ms = 500'].join('\n');
export const CONTROL_TOML_STEADY = ['tick_ms = 100', 'election_ticks = 20', 'lease_ms = 10000', 'lease_renew_ms = 1000'].join('\n');

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
    killOnExit(child);
    this.exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static spawn(configPath: string, address: string, dataDir: string, env: Record<string, string> = {}, extraArgs: string[] = []): NodeProcess {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'cluster/node.ts', '--config', configPath, '--node', address, '--data', dataDir, ...extraArgs],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DISTRIBKV_TOKEN: '', DISTRIBKV_INTERNAL_TOKEN: '', ...env } },
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

  /** The JSON log lines with this `message` the node wrote so far, parsed. */
  logs(message: string): Record<string, unknown>[] {
    const quoted = `"message":${JSON.stringify(message)}`;
    return this.stderrText.split('\n').filter((line) => line.includes(quoted)).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Polls /healthz (at `at`, the node's own address unless it is reached through a proxy) until
   * the node says it is ready (the control plane answered; a leader holds its lease); fails
   * early, with the node's log, if the node exits.
   */
  async waitHealthy(at: string = this.address): Promise<void> {
    const deadline = Date.now() + HEALTHY_WAIT_MS;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`node ${this.address} exited before it was healthy:\n${this.stderrText}`);
      try {
        const res = await fetch(`http://${at}/healthz`, { signal: AbortSignal.timeout(2000) });
        const body = await res.json() as { ready?: boolean; waiting?: string };
        if (res.status === 200 && body.ready) return;
        last = `${res.status}, waiting for ${body.waiting ?? '?'}`;
      } catch {
        // Not listening yet: poll again.
      }
      await delay(POLL_MS);
    }
    throw new Error(`node ${this.address} not ready within ${HEALTHY_WAIT_MS} ms (${last}):\n${this.stderrText}`);
  }

  /** Polls /healthz (at `at`) until the node answers at all, ready or not; fails early if it exits. */
  async waitListening(at: string = this.address): Promise<void> {
    const deadline = Date.now() + HEALTHY_WAIT_MS;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`node ${this.address} exited before it listened:\n${this.stderrText}`);
      try {
        await fetch(`http://${at}/healthz`, { signal: AbortSignal.timeout(2000) });
        return;
      } catch {
        // Not listening yet: poll again.
      }
      await delay(POLL_MS);
    }
    throw new Error(`node ${this.address} not listening within ${HEALTHY_WAIT_MS} ms:\n${this.stderrText}`);
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
  /**
   * Controller-only nodes (1, 3 or 5) to run the control plane, listed as `controllers` and
   * started once the shards' nodes listen: the shards' nodes can then be killed or started late
   * without taking the control plane down. Without it, the config's default picks the
   * controllers among the shards' nodes.
   */
  controllers?: number;
  /**
   * TOML for a [control] table (leases, Raft ticks: protocol/control-options.ts). Default
   * CONTROL_TOML_STEADY, so a test about something else is not failed over by a starved
   * machine; '' for the product's defaults (benchmarks).
   */
  controlToml?: string;
  /** Points per shard on the ring; default 64 (a smaller ring than the product's 128, for faster tests). */
  vnodes?: number;
  /** Shard nodes the others reach through a TCP proxy (see the file comment). */
  proxied?: (shard: ShardSpec) => string[];
  /** Shard nodes that reach the controllers through proxies (see the file comment); needs `controllers`. */
  controllersProxied?: (shard: ShardSpec) => string[];
  env?: Record<string, string>;
}

export interface TestCluster {
  dir: string;
  /** Where each node keeps its data: `<dataDir>/db` is its engine, `<dataDir>/node-state.json` its persisted topology. */
  dataDir(address: string): string;
  configPath: string;
  shards: ShardSpec[];
  /** The controller-only nodes (empty unless `controllers` was asked for). */
  controllers: string[];
  nodes: Map<string, NodeProcess>;
  /** The proxy in front of each proxied node, by the node's address. */
  proxies: Map<string, TcpProxy>;
  /** The proxies `controllersProxied` nodes reach the controllers through, by controller. */
  controllerProxies: Map<string, TcpProxy>;
  /** Where the test reaches the node at `address` itself: its bind address if proxied, else `address`. */
  direct(address: string): string;
  /** Starts (or restarts) the node at `address` with its own data directory and waits until healthy. */
  start(address: string, env?: Record<string, string>): Promise<NodeProcess>;
  /** Starts the node at `address` without waiting for it (e.g. to kill it in the middle of its start). */
  launch(address: string, env?: Record<string, string>): NodeProcess;
  /** Kills every node still running and removes the directory. */
  close(): Promise<void>;
}

/** Writes a config with fresh ports and starts every node; the caller must `close()` it. */
export async function startCluster(options: ClusterOptions): Promise<TestCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-test-'));
  const nodes = new Map<string, NodeProcess>();
  const proxies = new Map<string, TcpProxy>();
  const controllerProxies = new Map<string, TcpProxy>();
  const everyProcess: NodeProcess[] = [];
  const close = async () => {
    await Promise.all([...nodes.values()].map((n) => n.kill()));
    await keepLogs(everyProcess, path.basename(dir));
    await Promise.all([...proxies.values(), ...controllerProxies.values()].map((p) => p.close()));
    await rm(dir, { recursive: true, force: true });
  };
  const replicas = options.replicas ?? 0;
  const controllerCount = options.controllers ?? 0;
  const ports = await freePorts(options.shards * (1 + replicas) + controllerCount);
  const controllers = ports.slice(options.shards * (1 + replicas)).map((port) => `127.0.0.1:${port}`);
  const plain: ShardSpec[] = Array.from({ length: options.shards }, (_, i) => ({
    name: `shard-${i}`,
    leader: `127.0.0.1:${ports[i * (1 + replicas)]}`,
    replicas: Array.from({ length: replicas }, (_, j) => `127.0.0.1:${ports[i * (1 + replicas) + 1 + j]}`),
  }));
  // A proxied node's address moves to the proxy's host; its port stays.
  const proxied = new Set(plain.flatMap((s) => options.proxied?.(s) ?? []));
  const moved = (a: string) => (proxied.has(a) ? a.replace('127.0.0.1:', `${PROXY_HOST}:`) : a);
  const shards = plain.map((s) => ({ name: s.name, leader: moved(s.leader), replicas: s.replicas.map(moved) }));
  const bindOf = (address: string) => (address.startsWith(`${PROXY_HOST}:`) ? PROXIED_BIND_HOST : undefined);
  const configPath = path.join(dir, 'cluster.toml');
  await writeFile(configPath, configToml(shards, controllers, options));
  // Nodes that reach the controllers through proxies read a config of their own.
  const viaProxies = new Set(plain.flatMap((s) => options.controllersProxied?.(s) ?? []).map(moved));
  const proxiedConfigPath = path.join(dir, 'cluster-controllers-proxied.toml');
  if (viaProxies.size > 0) await writeFile(proxiedConfigPath, configToml(shards, controllers.map((c) => c.replace('127.0.0.1:', `${PROXY_HOST}:`)), options));
  const dataDir = (address: string) => path.join(dir, 'data', address.replace(':', '_'));
  const direct = (address: string) => {
    const bind = bindOf(address);
    return bind ? `${bind}:${portOf(address)}` : address;
  };
  const launch = (address: string, env = options.env ?? {}) => {
    const bind = bindOf(address);
    const node = NodeProcess.spawn(viaProxies.has(address) ? proxiedConfigPath : configPath, address, dataDir(address), env, bind ? ['--bind', bind] : []);
    nodes.set(address, node);
    everyProcess.push(node);
    return node;
  };
  const cluster: TestCluster = {
    dir, configPath, shards, controllers, nodes, proxies, controllerProxies, close, dataDir, direct, launch,
    async start(address, env) {
      const node = launch(address, env);
      await node.waitHealthy(direct(address));
      return node;
    },
  };
  const deferred = new Set(shards.flatMap((s) => options.deferred?.(s) ?? []));
  try {
    for (const address of proxied) {
      const port = portOf(address);
      proxies.set(moved(address), await TcpProxy.start({ host: PROXY_HOST, port }, { host: PROXIED_BIND_HOST, port }));
    }
    if (viaProxies.size > 0) {
      for (const c of controllers) controllerProxies.set(c, await TcpProxy.start({ host: PROXY_HOST, port: portOf(c) }, { host: '127.0.0.1', port: portOf(c) }));
    }
    // Shard nodes listen before the controllers start: a control plane up a lease before a
    // shard's leader would fail that shard over before its leader could ask for a lease.
    const members = shards.flatMap((s) => [s.leader, ...s.replicas]).filter((a) => !deferred.has(a));
    const starting = members.map((a) => launch(a));
    await Promise.all(starting.map((n) => n.waitListening(direct(n.address))));
    await Promise.all(controllers.map((a) => cluster.start(a)));
    await Promise.all(starting.map((n) => n.waitHealthy(direct(n.address))));
  } catch (error) {
    await close();
    throw error;
  }
  return cluster;
}

/** With DISTRIBKV_TEST_LOGS set, writes each process's log to `<that dir>/<run>/<address>.<n>.log`. */
async function keepLogs(processes: readonly NodeProcess[], run: string): Promise<void> {
  const root = process.env['DISTRIBKV_TEST_LOGS'];
  if (!root) return;
  const dir = path.join(root, run);
  await mkdir(dir, { recursive: true });
  const seen = new Map<string, number>();
  for (const p of processes) {
    const n = (seen.get(p.address) ?? 0) + 1;
    seen.set(p.address, n);
    await writeFile(path.join(dir, `${p.address.replace(':', '_')}.${n}.log`), p.stderr);
  }
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

function configToml(shards: ShardSpec[], controllers: string[], options: ClusterOptions): string {
  const lines = ['[cluster]', `vnodes = ${options.vnodes ?? 64}`, options.clusterToml ?? ''];
  if (controllers.length > 0) lines.push(`controllers = [${controllers.map((c) => `"${c}"`).join(', ')}]`);
  lines.push('');
  if (options.limitsToml) lines.push('[limits]', options.limitsToml, '');
  if (options.replicationToml) lines.push('[replication]', options.replicationToml, '');
  const control = options.controlToml ?? CONTROL_TOML_STEADY;
  if (control) lines.push('[control]', control, '');
  for (const s of shards) {
    lines.push('[[shards]]', `name = "${s.name}"`, `leader = "${s.leader}"`, `replicas = [${s.replicas.map((r) => `"${r}"`).join(', ')}]`, '');
  }
  return lines.join('\n');
}
