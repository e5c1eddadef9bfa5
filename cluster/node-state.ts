/**
 * What a node knows about itself: its address, its shard (none while it waits unassigned), its
 * role, the shard's term, and the topology (with the metadata version) it routes by. Routing
 * decisions read only this.
 *
 * Why a separate immutable value: failovers and resharding change a node's role and the
 * topology. The replication controller computes a new NodeState from each committed metadata
 * and hands it to `NodeServer.setState`; requests already in flight keep the state they started
 * with, so no request ever sees half a change.
 */
import type { Metadata } from './control/metadata.ts';
import { Topology, type ShardInfo } from '../protocol/topology.ts';

export type NodeRole = 'leader' | 'replica' | 'unassigned';

export interface NodeState {
  /** This node's canonical `host:port`. */
  readonly address: string;
  /** Its shard; undefined while it waits, unassigned, for a shard to name it. */
  readonly shard: ShardInfo | undefined;
  readonly role: NodeRole;
  readonly topology: Topology;
  /**
   * Whether a replica may answer `read=replica` from its own data. False while it installs a
   * snapshot: its engine then holds part of the leader's data, so reads go to the leader.
   */
  readonly replicaReadable: boolean;
}

/** The topology a metadata version shows: each shard's leader, replicas and term. */
export function topologyOf(metadata: Metadata): Topology {
  const shards = metadata.shards.map((s) => ({ name: s.name, leader: s.leader, replicas: s.members.filter((m) => m !== s.leader), term: s.term }));
  const m = metadata.migration;
  const migration = m && { id: m.id, kind: m.kind, shard: m.shard, to: [...m.to], moves: m.moves.map((x) => ({ giver: x.giver, receiver: x.receiver, state: x.state, through: x.through, cleaned: x.cleaned })) };
  return Topology.of(metadata.version, shards, metadata.vnodes, metadata.ring, migration ?? undefined);
}

/** The state of the node at `address` in `topology`. */
export function nodeStateFor(topology: Topology, address: string, replicaReadable = true): NodeState {
  const found = topology.locate(address);
  return Object.freeze({ address, shard: found?.shard, role: found?.role ?? 'unassigned', topology, replicaReadable });
}
