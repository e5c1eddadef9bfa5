/**
 * cluster.toml's shards as metadata: the bootstrap command the first control-plane leader of a
 * new cluster commits, and the same shape at version 0, which a node routes by until the control
 * plane first answers. After the bootstrap, cluster.toml's shards are never read again: the
 * committed metadata is the truth (docs/operations.md says how to change it).
 */
import type { ClusterConfig } from '../../protocol/config.ts';
import { applyCommand, EMPTY_METADATA, type Command, type Metadata } from './metadata.ts';

export function bootstrapCommand(config: Pick<ClusterConfig, 'vnodes' | 'shards'>): Extract<Command, { type: 'bootstrap' }> {
  return { type: 'bootstrap', vnodes: config.vnodes, shards: config.shards.map((s) => ({ name: s.name, members: [s.leader, ...s.replicas] })) };
}

/** What the bootstrap would commit, at version 0: nothing committed yet. */
export function metadataOfConfig(bootstrap: Extract<Command, { type: 'bootstrap' }>): Metadata {
  const result = applyCommand(EMPTY_METADATA, bootstrap);
  if (!result.ok) throw new Error(`cluster.toml's shards do not make valid metadata: ${result.message}`);
  return Object.freeze({ ...result.metadata, version: 0 });
}
