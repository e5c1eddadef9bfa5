/**
 * What a node knows about itself: its address, its shard, its role and the topology (with
 * its epoch) it routes by. Routing decisions read only this.
 *
 * Why a separate immutable value: replication and failover change a node's role and the
 * topology's epoch. The replication controller computes a new NodeState and hands it to
 * `NodeServer.setState`; requests already in flight keep the state they started with, so no
 * request ever sees half a change.
 */
import { ClusterError } from '../protocol/errors.ts';
import type { Role, ShardInfo, Topology } from '../protocol/topology.ts';

export interface NodeState {
  /** This node's canonical `host:port`, as listed in the topology. */
  readonly address: string;
  readonly shard: ShardInfo;
  readonly role: Role;
  readonly topology: Topology;
  /**
   * Whether a replica may answer `read=replica` from its own data. False while it installs a
   * snapshot: its engine then holds part of the leader's data, so reads go to the leader.
   */
  readonly replicaReadable: boolean;
}

/** The state of the node at `address`; CONFIG_INVALID if the topology does not list it. */
export function nodeStateFor(topology: Topology, address: string, replicaReadable = true): NodeState {
  const found = topology.locate(address);
  if (!found) {
    const known = topology.addresses().join(', ');
    throw new ClusterError('CONFIG_INVALID', `node ${JSON.stringify(address)} is not a leader or replica in the config; known: ${known}`);
  }
  return Object.freeze({ address, shard: found.shard, role: found.role, topology, replicaReadable });
}
