/**
 * What changed between two versions of the cluster metadata, in words an operator reads: a
 * shard's new leader (an election or a handover; the metadata does not say which), a follower
 * dropped from or back in its shard's in-sync set (it fell behind, or caught up), shards added
 * and removed, a migration's start, its moves' steps and its end, nodes registering. Every node
 * sees every committed change, so each node's event list (cluster/events.ts) tells the whole
 * cluster's story, whichever node the dashboard asks.
 *
 * Pure: two metadata values in, a list of changes out, in a stable order. The versions need not
 * be consecutive (a node's long-poll may skip some): what happened in between is summed up.
 */
import type { Metadata, MigrationMeta, ShardMeta } from './metadata.ts';

export type MetadataEventKind = 'bootstrap' | 'election' | 'in-sync' | 'shard' | 'migration' | 'membership';

export interface MetadataEvent {
  kind: MetadataEventKind;
  message: string;
  fields: Record<string, unknown>;
}

/** The changes from `before` to `after`, oldest concern first: shards, then the migration, then spare nodes. */
export function metadataEvents(before: Metadata, after: Metadata): MetadataEvent[] {
  if (after.version <= before.version && before.version > 0) return [];
  const events: MetadataEvent[] = [];
  const version = after.version;
  if (before.version === 0 && after.version > 0) {
    events.push({ kind: 'bootstrap', message: `cluster metadata committed at version ${version}: ${after.shards.length} shards`, fields: { version } });
  }
  const old = new Map(before.shards.map((s) => [s.name, s]));
  for (const shard of after.shards) {
    const was = old.get(shard.name);
    if (!was) events.push({ kind: 'shard', message: `shard ${shard.name} added: ${shard.members.join(', ')}, led by ${shard.leader}`, fields: { version, shard: shard.name, members: shard.members } });
    else events.push(...shardEvents(was, shard, version));
  }
  const now = new Set(after.shards.map((s) => s.name));
  for (const shard of before.shards) {
    if (!now.has(shard.name)) events.push({ kind: 'shard', message: `shard ${shard.name} removed; its nodes are spare`, fields: { version, shard: shard.name } });
  }
  events.push(...migrationEvents(before.migration, after.migration, version));
  for (const node of after.unassigned) {
    if (!before.unassigned.includes(node)) events.push({ kind: 'membership', message: `${node} is a spare node (unassigned); a shard add can name it`, fields: { version, node } });
  }
  return events;
}

function shardEvents(was: ShardMeta, shard: ShardMeta, version: number): MetadataEvent[] {
  if (shard.term !== was.term) {
    const how = shard.leader === was.leader ? 're-elected' : `took over from ${was.leader}`;
    return [{
      kind: 'election',
      message: `${shard.name}: ${shard.leader} leads at term ${shard.term} (${how}); in sync: ${shard.inSync.join(', ')}`,
      fields: { version, shard: shard.name, leader: shard.leader, previous: was.leader, term: shard.term, previousTerm: was.term },
    }];
  }
  const events: MetadataEvent[] = [];
  const dropped = was.inSync.filter((n) => !shard.inSync.includes(n));
  const added = shard.inSync.filter((n) => !was.inSync.includes(n));
  if (dropped.length > 0) {
    events.push({ kind: 'in-sync', message: `${shard.name}: ${dropped.join(', ')} fell behind and left the in-sync set`, fields: { version, shard: shard.name, dropped, inSync: shard.inSync } });
  }
  if (added.length > 0) {
    events.push({ kind: 'in-sync', message: `${shard.name}: ${added.join(', ')} caught up and is back in the in-sync set`, fields: { version, shard: shard.name, added, inSync: shard.inSync } });
  }
  return events;
}

function migrationEvents(was: MigrationMeta | null, now: MigrationMeta | null, version: number): MetadataEvent[] {
  const events: MetadataEvent[] = [];
  if (was && (!now || now.id !== was.id)) {
    events.push({ kind: 'migration', message: `migration ${was.id} (${was.kind} ${was.shard}) finished; the ring is ${was.to.join(', ')}`, fields: { version, migration: was.id } });
  }
  if (!now) return events;
  const fresh = !was || was.id !== now.id;
  if (fresh) {
    events.push({
      kind: 'migration',
      message: `migration ${now.id} started: ${now.kind} shard ${now.shard}, ${now.moves.length} moves (${now.moves.map((m) => `${m.giver} → ${m.receiver}`).join(', ')})`,
      fields: { version, migration: now.id, kind: now.kind, shard: now.shard },
    });
  }
  for (const move of now.moves) {
    const before = fresh ? undefined : was!.moves.find((m) => m.giver === move.giver && m.receiver === move.receiver);
    if (move.state !== (before?.state ?? 'copy')) {
      events.push({ kind: 'migration', message: `migration ${now.id}: ${move.giver} → ${move.receiver} is at ${move.state}`, fields: { version, migration: now.id, giver: move.giver, receiver: move.receiver, state: move.state } });
    }
    if (move.cleaned && !before?.cleaned) {
      events.push({ kind: 'migration', message: `migration ${now.id}: ${move.giver} deleted the keys it gave ${move.receiver}`, fields: { version, migration: now.id, giver: move.giver, receiver: move.receiver } });
    }
  }
  return events;
}
