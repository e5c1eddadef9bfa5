/**
 * One shard and its control plane across network namespaces, for partitions a loopback proxy
 * cannot express. Every dialer on loopback comes from 127.0.0.1 and dials a node's one address,
 * so a proxy can cut a node off from everyone or no one, but not from some peers and not others
 * ("the old leader keeps its follower, loses the controllers and the other follower"). Here each
 * node runs on a host of its own (test/hosts/host-network.ts: a namespace per host joined by a
 * bridge), and `partition(groups)` makes exactly the listed links silent, both ways, while the
 * test process (in the root namespace) still reaches every host.
 *
 * Layout: host h0 runs the shard's configured leader, h1… its replicas, then one host per
 * controller-only node. Nodes run with `--log-level info` (tests read their log lines) and, as
 * protected mode asks of a node bound beyond loopback, a token and an internal credential
 * (`auth = "internal"`: data routes stay open; `token` is for the admin routes). Shard nodes listen before the controllers start (cluster-harness.ts says why).
 *
 * Cleanup: `close()` kills the nodes and removes the network and the data; if the process dies
 * first, the network's exit cleanup kills what runs in the namespaces and removes them, and the
 * data directory (named like the run's namespaces) goes with it or with the next run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeProcess } from '../helpers/cluster-harness.ts';
import { onExitCleanup } from '../helpers/exit-cleanup.ts';
import { HostNetwork } from '../hosts/host-network.ts';
import { NO_CUTS, split } from '../hosts/reachability.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const INTERNAL_TOKEN = 'netns-cluster-internal-credential';

export interface NetnsClusterOptions {
  replicas: number;
  controllers: 1 | 3 | 5;
  replicationToml?: string;
  controlToml?: string;
}

export class NetnsCluster {
  readonly nodes = new Map<string, NodeProcess>();
  /** The operators' token (admin routes); test/replication/nodes.ts `useToken` sends it. */
  readonly token = 'netns-cluster-operator-token';
  readonly leader: string;
  readonly replicas: string[];
  readonly controllers: string[];
  private readonly hostByAddress = new Map<string, string>();
  private readonly unregister: () => void;
  private closed = false;

  private constructor(readonly network: HostNetwork, readonly dir: string, private readonly configPath: string, options: NetnsClusterOptions) {
    const addresses = network.hosts.map((h) => h.address);
    for (const h of network.hosts) this.hostByAddress.set(h.address, h.name);
    this.leader = addresses[0]!;
    this.replicas = addresses.slice(1, 1 + options.replicas);
    this.controllers = addresses.slice(1 + options.replicas);
    this.unregister = onExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
  }

  /** Builds the network and starts every node; the caller must `close()` it. */
  static async start(options: NetnsClusterOptions): Promise<NetnsCluster> {
    const network = await HostNetwork.create({ hostCount: 1 + options.replicas + options.controllers });
    // Named like the run's namespaces, so a later run removes it if this process is killed.
    const dir = mkdtempSync(path.join(os.tmpdir(), network.plan.prefix));
    const configPath = path.join(dir, 'cluster.toml');
    const cluster = new NetnsCluster(network, dir, configPath, options);
    try {
      writeFileSync(configPath, cluster.configText(options));
      const members = [cluster.leader, ...cluster.replicas];
      const starting = members.map((a) => cluster.launch(a));
      await Promise.all(starting.map((n) => n.waitListening()));
      await Promise.all(cluster.controllers.map((a) => cluster.start(a)));
      await Promise.all(starting.map((n) => n.waitHealthy()));
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** The host (`h0`, …) `address` runs on. */
  hostOf(address: string): string {
    const host = this.hostByAddress.get(address);
    if (!host) throw new Error(`netns cluster: no host has address ${JSON.stringify(address)}`);
    return host;
  }

  /** Starts (or restarts) the node at `address` and waits until it is ready. */
  async start(address: string): Promise<NodeProcess> {
    const node = this.launch(address);
    await node.waitHealthy();
    return node;
  }

  /** Makes every link between two of `groups` silent, both ways; nodes in no group keep every link. */
  partition(groups: readonly (readonly string[])[]): Promise<void> {
    return this.network.setCuts(split(groups.map((g) => g.map((a) => this.hostOf(a)))));
  }

  heal(): Promise<void> {
    return this.network.setCuts(NO_CUTS);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await Promise.all([...this.nodes.values()].map((n) => n.kill()));
    } finally {
      await this.network.destroy();
      rmSync(this.dir, { recursive: true, force: true });
      this.unregister();
    }
  }

  private launch(address: string): NodeProcess {
    const host = this.network.host(this.hostOf(address));
    const dataDir = path.join(this.dir, 'data', host.name);
    const args = ['--import', 'tsx', 'cluster/node.ts', '--config', this.configPath, '--node', address, '--data', dataDir, '--bind', host.nodeIp, '--log-level', 'info'];
    const child = this.network.spawnIn(host.name, process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DISTRIBKV_TOKEN: '', DISTRIBKV_INTERNAL_TOKEN: '' } });
    const node = NodeProcess.adopt(address, dataDir, child);
    this.nodes.set(address, node);
    return node;
  }

  private configText(options: NetnsClusterOptions): string {
    const quoted = (list: readonly string[]) => list.map((a) => JSON.stringify(a)).join(', ');
    const lines = ['[cluster]', 'vnodes = 64', `controllers = [${quoted(this.controllers)}]`, `token = "${this.token}"`, `internal_token = "${INTERNAL_TOKEN}"`, ''];
    if (options.replicationToml) lines.push('[replication]', options.replicationToml, '');
    if (options.controlToml) lines.push('[control]', options.controlToml, '');
    lines.push('[[shards]]', 'name = "shard-0"', `leader = ${JSON.stringify(this.leader)}`, `replicas = [${quoted(this.replicas)}]`, '');
    return lines.join('\n');
  }
}
