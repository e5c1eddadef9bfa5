/**
 * A real cluster across hosts on one machine: one network namespace per node (host-network.ts),
 * each node bound to its host's own address with a token, optionally behind its host's relay
 * (relay.ts) for delay and loss. The test process stays in the root namespace and reaches every
 * host over its link into the bridge, as a client on another machine would.
 *
 * @example
 * ```ts
 * const cluster = await HostCluster.start({ shards: 1, replicas: 2, relays: true });
 * after(() => cluster.close());
 * const client = await cluster.connect();      // the routing client, with the token
 * await cluster.kill('h2');                      // kill -9 of host h2's node
 * await cluster.startNode('h2');                 // restart it on its data, wait until healthy
 * ```
 *
 * Layout: shard s's first leader is on host s·(1+replicas), its replicas on the hosts after it;
 * with `controllers: 3`, three more hosts run controller-only nodes (listed in the config's
 * `controllers`, holding no shard), else the config's default puts the control plane on the
 * first three shard nodes. With `spares: n`, the last n hosts run nodes the config does not
 * name: they join as unassigned and wait for a `shard add` to name them (`spareHosts`). Who leads a shard now is the control plane's committed metadata
 * (`metadata`, `leaderOf`), not the layout: failovers move it.
 * Nodes are started with node-launch.ts (the one place for the command line and config).
 * Every node is `ip netns exec NS node …`: ip execs node in place, so the pid held is the node
 * itself (checked at each start), and SIGKILL or SIGSTOP reach it, not a wrapper.
 *
 * Cleanup: `close()` kills nodes and relays and removes the network and the data directory.
 * If the process dies first (Ctrl-C, SIGTERM, an uncaught error), the network's exit cleanup
 * kills everything inside the namespaces and the data directory's removes the files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeScanPage, percentEncode } from '../../cluster/index.ts';
import type { Metadata, ShardMeta } from '../../cluster/control/metadata.ts';
import { defaultControllers } from '../../protocol/config.ts';
import { Client, HttpTransport, type ClientOptions } from '../../net/index.ts';
import { NodeProcess } from '../helpers/cluster-harness.ts';
import { onExitCleanup } from '../helpers/exit-cleanup.ts';
import { waitReady } from '../helpers/wait-ready.ts';
import { waitFor, waitForValue } from '../replication/nodes.ts';
import { CLUSTER_TOKEN, START_WAIT_MS } from './constants.ts';
import { ip } from './ip-command.ts';
import { HostNetwork } from './host-network.ts';
import { HostRelay } from './host-relay.ts';
import { clusterConfigText, internalTokenOf, nodeCommand, type ShardLayout } from './node-launch.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** A controller that is cut off or stopped costs a metadata read this long. */
const INTERNAL_REQUEST_TIMEOUT_MS = 4_000;

export interface HostClusterOptions {
  shards?: number;
  /** Replicas per shard. */
  replicas?: number;
  /** A relay in front of every node, for `slow` and `lossy` (one more process per host). */
  relays?: boolean;
  /** `auth` of the config; default `all`, so every data request crosses hosts with the token too. */
  auth?: 'internal' | 'all';
  replicationToml?: string;
  limitsToml?: string;
  clusterToml?: string;
  /** The nodes' --log-level; default `warn`. */
  logLevel?: string;
  /** Lines of the [control] table (lease_ms, …). */
  controlToml?: string;
  /** 3: three controller-only hosts after the shards' hosts; omitted or 0: the config's default (the first three shard nodes). */
  controllers?: 0 | 3;
  /** Hosts after all others whose nodes the config does not name: they start unassigned. */
  spares?: number;
  /** Seeds the relays' loss. */
  seed?: number;
}

/** The part of GET /internal/state the harness reads. */
export interface NodeState {
  role: 'leader' | 'replica' | 'unassigned';
  term: number | null;
  lastSequence: number;
  replication: { leader?: { followers: { node: string; inSync: boolean }[]; leaseValid: boolean } };
}

export class HostCluster {
  readonly network: HostNetwork;
  readonly shards: ShardLayout[];
  readonly token = CLUSTER_TOKEN;
  /** The nodes' own credential (node-launch.ts), for the internal routes the harness reads. */
  readonly internalToken = internalTokenOf(CLUSTER_TOKEN);
  /** For the harness's own internal requests (the metadata). */
  private readonly internal = new HttpTransport({ requestTimeoutMs: INTERNAL_REQUEST_TIMEOUT_MS, responseBytesMax: 1 << 20, socketsPerNodeMax: 2 });
  readonly dir: string;
  readonly configPath: string;
  readonly nodes = new Map<string, NodeProcess>();
  readonly relays = new Map<string, HostRelay>();
  /** The hosts that run the control plane. */
  readonly controllerHosts: string[];
  /** The hosts whose nodes started unassigned (`spares`). */
  readonly spareHosts: string[];
  private readonly options: HostClusterOptions;
  private readonly unregister: () => void;
  private closed = false;

  private constructor(network: HostNetwork, options: HostClusterOptions) {
    this.network = network;
    this.options = options;
    const replicas = options.replicas ?? 0;
    const addresses = network.hosts.map((h) => h.address);
    this.shards = Array.from({ length: options.shards ?? 1 }, (_, s) => ({
      name: `shard-${s}`,
      leader: addresses[s * (1 + replicas)]!,
      replicas: addresses.slice(s * (1 + replicas) + 1, (s + 1) * (1 + replicas)),
    }));
    const shardHosts = this.shards.length * (1 + replicas);
    const dedicated = options.controllers === 3 ? addresses.slice(shardHosts, shardHosts + 3) : undefined;
    this.controllerHosts = (dedicated ?? defaultControllers(this.shards)).map((a) => this.hostOf(a));
    const named = shardHosts + (dedicated?.length ?? 0);
    this.spareHosts = network.hosts.slice(named, named + (options.spares ?? 0)).map((h) => h.name);
    // Named like the run's namespaces, so a later run removes it too if this process is killed.
    this.dir = mkdtempSync(path.join(os.tmpdir(), network.plan.prefix));
    const dir = this.dir;
    this.unregister = onExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
    this.configPath = path.join(this.dir, 'cluster.toml');
    writeFileSync(this.configPath, clusterConfigText({
      shards: this.shards, controllers: dedicated, token: this.token, auth: options.auth ?? 'all',
      clusterToml: options.clusterToml, replicationToml: options.replicationToml, limitsToml: options.limitsToml, controlToml: options.controlToml,
    }));
  }

  /** Builds the network, starts the relays and every node; the caller must `close()` it. */
  static async start(options: HostClusterOptions = {}): Promise<HostCluster> {
    const hostCount = (options.shards ?? 1) * (1 + (options.replicas ?? 0)) + (options.controllers === 3 ? 3 : 0) + (options.spares ?? 0);
    const network = await HostNetwork.create({ hostCount, relays: options.relays });
    let cluster: HostCluster | undefined;
    try {
      cluster = new HostCluster(network, options);
      const c = cluster;
      if (options.relays) {
        await Promise.all(network.hosts.map(async (h) => c.relays.set(h.name, await HostRelay.start(network, h, (options.seed ?? 1) * 100 + h.index))));
      }
      await Promise.all(network.hosts.map((h) => c.startNode(h.name)));
      return cluster;
    } catch (error) {
      if (cluster) await cluster.close();
      else await network.destroy();
      throw error;
    }
  }

  /** Host names in order: `h0`, `h1`, … */
  get hostNames(): string[] {
    return this.network.hosts.map((h) => h.name);
  }

  /** The host a node address belongs to. */
  hostOf(address: string): string {
    const h = this.network.hosts.find((x) => x.address === address);
    if (!h) throw new Error(`host cluster: no host has address ${JSON.stringify(address)}`);
    return h.name;
  }

  addressOf(host: string): string {
    return this.network.host(host).address;
  }

  dataDir(host: string): string {
    return path.join(this.dir, 'data', host);
  }

  node(host: string): NodeProcess {
    const n = this.nodes.get(host);
    if (!n) throw new Error(`host cluster: no node was started on ${JSON.stringify(host)}`);
    return n;
  }

  /** Starts (or restarts) host `host`'s node on its data directory and waits until it is healthy. */
  async startNode(host: string): Promise<NodeProcess> {
    const spec = this.network.host(host);
    assert.ok(!this.nodes.get(host)?.running, `host cluster: the node on ${host} is still running`);
    const launch = nodeCommand({ configPath: this.configPath, address: spec.address, dataDir: this.dataDir(host), bindHost: spec.nodeIp, logLevel: this.options.logLevel ?? 'warn' });
    const child = this.network.spawnIn(host, launch.command, launch.args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...launch.env } });
    const node = NodeProcess.adopt(spec.address, this.dataDir(host), child);
    this.nodes.set(host, node);
    await waitReady(node);
    await assertNodeInNamespace(node, spec.namespace);
    return node;
  }

  /** kill -9 of the node on `host`; resolves once it has exited. */
  async kill(host: string): Promise<void> {
    await this.node(host).stop('SIGKILL');
  }

  /** The routing client with the cluster's token, seeded with every host. */
  connect(options: ClientOptions = {}): Promise<Client> {
    return Client.connect(this.network.hosts.map((h) => h.address), { token: this.token, ...options });
  }

  /** GET /internal/state of the node on `host`, through `client`. */
  async state(client: Client, host: string): Promise<NodeState> {
    const address = this.addressOf(host);
    const res = await client.send({ method: 'GET', path: '/internal/state', target: () => address }, true);
    if (res.status !== 200) throw new Error(`GET /internal/state on ${host}: ${res.status} ${Buffer.from(res.body).toString()}`);
    return JSON.parse(Buffer.from(res.body).toString()) as NodeState;
  }

  /**
   * The committed metadata: the newest version any controller host answers with (asked with
   * the nodes' internal credential, which /internal/meta needs). A controller cut off from the
   * others answers too, with what it had applied when it was cut off, so the highest version wins.
   */
  async metadata(): Promise<Metadata> {
    const failures: string[] = [];
    const headers = { Authorization: `Bearer ${this.internalToken}` };
    const answers = await Promise.all(this.controllerHosts.map(async (host) => {
      try {
        const res = await this.internal.request(this.addressOf(host), { method: 'GET', path: '/internal/meta?after=0&wait_ms=0', headers });
        if (res.status === 200) return JSON.parse(Buffer.from(res.body).toString()) as Metadata;
        failures.push(`${host}: ${res.status}`);
      } catch (error) {
        failures.push(`${host}: ${(error as Error).message}`);
      }
      return undefined;
    }));
    const newest = answers.reduce<Metadata | undefined>((best, m) => (m && (!best || m.version > best.version) ? m : best), undefined);
    if (!newest) throw new Error(`host cluster: no controller answered GET /internal/meta (${failures.join('; ')})`);
    return newest;
  }

  /** A shard as the committed metadata has it now (its leader, term, members, in-sync set). */
  async shardMeta(shard = this.shards[0]!.name): Promise<ShardMeta> {
    const found = (await this.metadata()).shards.find((s) => s.name === shard);
    if (!found) throw new Error(`host cluster: the metadata has no shard ${JSON.stringify(shard)}`);
    return found;
  }

  /** The host that leads `shard` now, by the committed metadata. */
  async leaderOf(shard = this.shards[0]!.name): Promise<string> {
    return this.hostOf((await this.shardMeta(shard)).leader);
  }

  /** The shards the committed metadata has now (those added by `shard add` too). */
  async shardNames(): Promise<string[]> {
    return (await this.metadata()).shards.map((s) => s.name);
  }

  /**
   * The shards, read inside the wait's bound like everything after it: the first read right
   * after a heal can find every pooled connection to the controllers dead ("socket hang up"),
   * and a wait must poll through that rather than fail on its first try.
   */
  private shardNamesWithin(timeoutMs: number): Promise<string[]> {
    return waitForValue('the committed metadata from a controller', () => this.shardNames(), timeoutMs);
  }

  /** Waits until every shard's committed in-sync set holds all its members, and its leader holds a lease. */
  async waitAllInSync(client: Client, timeoutMs = START_WAIT_MS): Promise<void> {
    for (const shard of await this.shardNamesWithin(timeoutMs)) {
      await waitFor(`every member of ${shard} in its committed in-sync set, under a leader with a lease`, async () => {
        const meta = await this.shardMeta(shard);
        if (!meta.members.every((m) => meta.inSync.includes(m))) return false;
        return (await this.state(client, this.hostOf(meta.leader))).replication.leader?.leaseValid === true;
      }, timeoutMs);
    }
  }

  /** Waits until every member of each shard has applied all its current leader holds (no write may be running). */
  async waitCaughtUp(client: Client, timeoutMs = START_WAIT_MS): Promise<void> {
    for (const shard of await this.shardNamesWithin(timeoutMs)) {
      await waitFor(`the members of ${shard} caught up with its leader`, async () => {
        const meta = await this.shardMeta(shard);
        const leader = await this.state(client, this.hostOf(meta.leader));
        const others = await Promise.all(meta.members.filter((m) => m !== meta.leader).map((a) => this.state(client, this.hostOf(a))));
        return others.every((r) => r.lastSequence === leader.lastSequence);
      }, timeoutMs);
    }
  }

  /** Both of the above: every shard whole, in sync and caught up (for the checks at a run's end). */
  async waitSettled(client: Client, timeoutMs = START_WAIT_MS): Promise<void> {
    await this.waitAllInSync(client, timeoutMs);
    await this.waitCaughtUp(client, timeoutMs);
  }

  /** Every key and value the node on `host` holds (read from its own data), as UTF-8 text. */
  async dataOf(client: Client, host: string): Promise<Map<string, string>> {
    const address = this.addressOf(host);
    const out = new Map<string, string>();
    let after = '';
    for (let page = 0; page < 10_000; page++) {
      const res = await client.send({ method: 'GET', path: `/kv?read=replica&encoding=base64&limit=1000${after}`, target: () => address }, true);
      if (res.status !== 200) throw new Error(`scan of ${host}: ${res.status} ${Buffer.from(res.body).toString()}`);
      const doc = decodeScanPage(res.body);
      for (const [k, v] of doc.entries) out.set(Buffer.from(k).toString('utf8'), Buffer.from(v).toString('utf8'));
      const last = doc.entries.at(-1);
      if (!doc.more || !last) return out;
      after = `&gt=${percentEncode(last[0])}`;
    }
    throw new Error(`scan of ${host} did not end`);
  }

  /** Kills every node and relay, removes the network and the data. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await Promise.all([...this.nodes.values()].map((n) => n.kill()));
      await Promise.all([...this.relays.values()].map((r) => r.close()));
    } finally {
      this.internal.close();
      await this.network.destroy();
      rmSync(this.dir, { recursive: true, force: true });
      this.unregister();
    }
  }
}

/** The pid we hold must be the node itself, inside the host's namespace (not an `ip` wrapper). */
async function assertNodeInNamespace(node: NodeProcess, namespace: string): Promise<void> {
  const pid = node.pid;
  assert.ok(pid !== undefined, 'host cluster: the node has no pid');
  assert.equal(realpathSync(readlinkSync(`/proc/${pid}/exe`)), realpathSync(process.execPath), `host cluster: pid ${pid} is not node`);
  assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cluster/node.ts'), `host cluster: pid ${pid} is not cluster/node.ts`);
  const pids = (await ip(['netns', 'pids', namespace])).split('\n').map((l) => l.trim());
  assert.ok(pids.includes(String(pid)), `host cluster: pid ${pid} is not in namespace ${namespace}`);
}
