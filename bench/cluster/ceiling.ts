/**
 * Starts the ceiling's bare servers (ceiling-server.ts), one process each, with a topology
 * that names them as the leaders of shards called like the cluster's, so that the client
 * library routes to them as it routes to the cluster.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Topology, type TopologyJson } from '../../cluster/index.ts';
import { freePorts, shardName } from './local-cluster.ts';
import { waitHealthy, type ProcessGroup } from './processes.ts';

export interface Ceiling {
  addresses: string[];
  topology: Topology;
}

export async function startCeiling(group: ProcessGroup, dir: string, processes: number, valueBytes: number, vnodes: number): Promise<Ceiling> {
  const addresses = (await freePorts(processes)).map((port) => `127.0.0.1:${port}`);
  const json: TopologyJson = {
    version: 1,
    ring: { hash: 'xxhash64', placement: 'sectored', vnodes },
    shards: addresses.map((address, i) => ({ name: shardName(i), leader: address, replicas: [], term: 1 })),
  };
  const topologyPath = path.join(dir, 'ceiling-topology.json');
  await writeFile(topologyPath, JSON.stringify(json));
  await Promise.all(addresses.map((address) => {
    const port = address.split(':')[1]!;
    const child = group.spawn(`ceiling ${address}`, 'ceiling', [], 'bench/cluster/ceiling-server.ts', ['--port', port, '--value-bytes', String(valueBytes), '--topology', topologyPath]);
    return waitHealthy(child, address);
  }));
  return { addresses, topology: Topology.fromJson(json) };
}
