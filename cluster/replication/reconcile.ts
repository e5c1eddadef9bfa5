/**
 * At start-up, which topology a node believes: the one in cluster.toml or the one it
 * persisted (node-meta.ts). Pure.
 *
 * The newer epoch wins. A promotion raises the epoch without touching cluster.toml, so after
 * one the persisted topology is newer and survives restarts; an operator who edits the file
 * and bumps `cluster.epoch` past it overrides it. A node starting for the first time takes the
 * config and, if it leads, records that its data belongs to the config's epoch.
 */
import { appendEpoch } from './epoch-history.ts';
import type { NodeMeta } from './node-meta.ts';
import { Topology } from '../../protocol/topology.ts';

export function reconcileMeta(configTopology: Topology, saved: NodeMeta | undefined, address: string, lastSequence: number): NodeMeta {
  const mine = configTopology.locate(address);
  if (!saved) {
    const leads = mine?.role === 'leader';
    return {
      topology: configTopology.toJson(),
      history: leads ? [{ epoch: configTopology.epoch, startSeq: 0 }] : [],
      dataEpoch: leads ? configTopology.epoch : 0,
      installing: false,
    };
  }
  const savedTopology = Topology.fromJson(saved.topology);
  if (savedTopology.epoch >= configTopology.epoch || !mine) return saved;
  // The config moved past what this node knew. If it makes this node a shard's new leader by
  // hand, its log from here on is that epoch's, as after a promotion.
  const before = savedTopology.shard(mine.shard.name)?.leader;
  const newLeader = mine.role === 'leader' && before !== address && (saved.history.at(-1)?.epoch ?? 0) < configTopology.epoch;
  return {
    ...saved,
    topology: configTopology.toJson(),
    history: newLeader ? appendEpoch(saved.history, configTopology.epoch, lastSequence) : saved.history,
    dataEpoch: newLeader ? configTopology.epoch : saved.dataEpoch,
  };
}
