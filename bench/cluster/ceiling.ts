/**
 * Starts the ceiling's bare servers (ceiling-server.ts), one process each, with a topology
 * that names them as the leaders of shards called like the cluster's, so that the client
 * library routes to them as it routes to the cluster. Where each one runs is the caller's
 * choice (`CeilingPlace`): on 127.0.0.1 beside a loopback cluster, or inside a host's network
 * namespace beside a cluster across hosts.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Topology, type TopologyJson } from '../../cluster/index.ts';
import { freePorts, shardName } from './local-cluster.ts';
import { waitHealthy, type Child, type ProcessGroup } from './processes.ts';

export const CEILING_SCRIPT = 'bench/cluster/ceiling-server.ts';

export interface Ceiling {
  addresses: string[];
  topology: Topology;
}

/** One bare server: the address it listens on, and how to start it there with ceiling-server.ts's arguments. */
export interface CeilingPlace {
  /** `host:port`. */
  address: string;
  start(name: string, args: string[]): Child;
}

/** `count` places on 127.0.0.1, on ports the kernel picked, started as children of `group`. */
export async function loopbackPlaces(group: ProcessGroup, count: number): Promise<CeilingPlace[]> {
  return (await freePorts(count)).map((port) => ({
    address: `127.0.0.1:${port}`,
    start: (name, args) => group.spawn(name, 'ceiling', [], CEILING_SCRIPT, args),
  }));
}

export async function startCeiling(places: readonly CeilingPlace[], dir: string, valueBytes: number, vnodes: number): Promise<Ceiling> {
  const addresses = places.map((p) => p.address);
  const json: TopologyJson = {
    version: 1,
    ring: { hash: 'xxhash64', placement: 'sectored', vnodes },
    shards: addresses.map((address, i) => ({ name: shardName(i), leader: address, replicas: [], term: 1 })),
  };
  const topologyPath = path.join(dir, 'ceiling-topology.json');
  await writeFile(topologyPath, JSON.stringify(json));
  await Promise.all(places.map((place) => {
    const [host, port] = splitAddress(place.address);
    const child = place.start(`ceiling ${place.address}`, ['--host', host, '--port', port, '--value-bytes', String(valueBytes), '--topology', topologyPath]);
    return waitHealthy(child, place.address);
  }));
  return { addresses, topology: Topology.fromJson(json) };
}

function splitAddress(address: string): [string, string] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), address.slice(at + 1)];
}
