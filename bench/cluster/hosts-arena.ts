/**
 * The arena across hosts, for `--hosts`: the cluster of test/hosts/host-cluster.ts (one network
 * namespace per node, each node bound to its host's own address, joined by veth pairs to one
 * bridge), and the ceiling's bare servers inside the leaders' namespaces on the next ports.
 * The load generator stays in the root namespace and reaches every host through the harness's
 * own link into the bridge, as a client on another machine would.
 *
 * The nodes run with a token (protected mode wants one off loopback) and `auth = "internal"`:
 * data requests need no credential, as on loopback, and replication carries the token.
 * They use the harness's config (node-launch.ts), not local-cluster.ts's: the same defaults
 * but 64 vnodes instead of 128, which changes which keys go where, not what a request costs.
 *
 * Lifetime: the harness owns its nodes (the group only watches them); the bare servers are the
 * group's. The closer stops the group, then closes the harness (nodes, namespaces, data).
 * If the process dies first, the harness's exit cleanup removes the namespaces and what runs
 * in them.
 */
import { hostsUnavailable } from '../../test/hosts/capability.ts';
import { HOSTS_MAX, NODE_PORT } from '../../test/hosts/constants.ts';
import { HostCluster } from '../../test/hosts/host-cluster.ts';
import { Topology, type TopologyJson } from '../../cluster/index.ts';
import type { Arena, Closer } from './arena.ts';
import { CEILING_SCRIPT, startCeiling, type CeilingPlace } from './ceiling.ts';
import type { BenchOptions } from './options.ts';
import { ProcessGroup } from './processes.ts';

/** Why `--hosts` cannot run here (one line), or undefined when it can. */
export async function hostsArenaUnavailable(options: BenchOptions): Promise<string | undefined> {
  const hosts = options.shards * (1 + options.replicas);
  if (hosts > HOSTS_MAX) return `--hosts puts one node per host and the harness makes at most ${HOSTS_MAX} hosts; ${options.shards} shards x ${1 + options.replicas} nodes is ${hosts}`;
  return hostsUnavailable();
}

export async function startHostsArena(options: BenchOptions, closers: Closer[]): Promise<Arena> {
  const group = new ProcessGroup();
  let harness: HostCluster | undefined;
  closers.push(async () => {
    await group.stopAll();
    await harness?.close();
  });
  harness = await HostCluster.start({ shards: options.shards, replicas: options.replicas, auth: 'internal', logLevel: options.nodeLogLevel });
  const leaders = harness.shards.map((s) => s.leader);
  for (const [host, node] of harness.nodes) group.watch(`node ${host} ${node.address}`, leaders.includes(node.address) ? 'leader' : 'replica', node);
  const res = await fetch(`http://${leaders[0]}/cluster`);
  if (res.status !== 200) throw new Error(`GET http://${leaders[0]}/cluster answered ${res.status}: ${await res.text()}`);
  const topology = Topology.fromJson((await res.json()) as TopologyJson);
  const ceiling = await startCeiling(ceilingPlaces(harness, group, options.ceilingProcesses), harness.dir, options.valueBytes, topology.toJson().ring.vnodes);
  return { network: 'hosts', group, cluster: { topology, leaders, internalHeaders: { Authorization: `Bearer ${harness.token}` } }, ceiling };
}

/** Bare server i in shard (i mod shards)'s leader's namespace, on port NODE_PORT + 1 + ⌊i / shards⌋. */
function ceilingPlaces(harness: HostCluster, group: ProcessGroup, count: number): CeilingPlace[] {
  return Array.from({ length: count }, (_, i) => {
    const host = harness.hostOf(harness.shards[i % harness.shards.length]!.leader);
    const ip = harness.network.host(host).nodeIp;
    return {
      address: `${ip}:${NODE_PORT + 1 + Math.floor(i / harness.shards.length)}`,
      start: (name, args) => group.adopt(name, 'ceiling', harness.network.spawnIn(host, process.execPath, ['--import', 'tsx', CEILING_SCRIPT, ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: process.env,
      })),
    };
  });
}
