/**
 * Where every key really is, below routing: each node's engine read straight from disk, checked
 * against the committed metadata. After a migration (docs/resharding.md) each key must be in
 * exactly its owner's engines (the owning shard's leader and replicas, with one value they agree
 * on), in no other node's engine, and a node that belongs to no shard must hold nothing:
 * nothing lost, duplicated or stranded.
 *
 * A running node's engine is read from a copy taken while the process is frozen (SIGSTOP, copy,
 * SIGCONT): the copy is exactly what a kill -9 at that instant would leave on disk, which the
 * engine recovers from by design, so the cluster need not be stopped between checks. A node
 * that is not running is read in place. REQUIRES: the cluster is quiet (no migration, no load,
 * followers caught up), so copies taken a moment apart show one state.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hash64, Ring } from '../../protocol/index.ts';
import type { NodeProcess } from './cluster-harness.ts';
import { engineKeys } from './engine-keys.ts';

/** The metadata as GET /internal/meta shows it (the parts a check needs). */
export interface MetaJson {
  version: number;
  vnodes: number;
  ring: string[];
  shards: { name: string; members: string[]; leader: string; term: number; inSync: string[] }[];
  migration: null | { id: number; kind: 'add' | 'remove'; shard: string; to: string[]; moves: { giver: string; receiver: string; state: 'copy' | 'cutover' | 'done'; through: number; cleaned: boolean }[] };
  unassigned: string[];
}

/** What a key may hold: one of `values`, or nothing at all if `mayBeAbsent` (its only writes failed). */
export interface Expectation {
  values: readonly string[];
  mayBeAbsent: boolean;
}

const EXAMPLES = 3;

/** Reads each node's engine (a frozen copy if it runs) and returns every broken rule, one line per kind; empty if none. */
export async function checkPlacement(o: {
  meta: MetaJson;
  nodes: ReadonlyMap<string, NodeProcess>;
  dataDir(address: string): string;
  expected: ReadonlyMap<string, Expectation>;
}): Promise<string[]> {
  if (o.meta.migration) throw new Error(`checkPlacement needs a quiet cluster; migration ${o.meta.migration.id} is under way`);
  const engines = new Map<string, Map<string, string>>();
  for (const [address, node] of o.nodes) engines.set(address, await readEngine(node, o.dataDir(address)));
  const ring = Ring.build(o.meta.ring, o.meta.vnodes);
  const owner = (key: string) => ring.shardNames[ring.ownerOfHash(hash64(Buffer.from(key, 'latin1')))]!;
  const shardOf = new Map(o.meta.shards.flatMap((s) => s.members.map((m) => [m, s.name] as const)));
  const problems = new Problems();
  for (const [address, keys] of engines) {
    const shard = shardOf.get(address);
    for (const key of keys.keys()) {
      if (!shard) problems.add(`held by a node of no shard (${address})`, key);
      else if (owner(key) !== shard) problems.add(`stranded on a shard that does not own it (${address} of ${shard})`, key);
      if (!o.expected.has(key)) problems.add('never written by the test', key);
    }
  }
  for (const [key, expectation] of o.expected) {
    const shard = o.meta.shards.find((s) => s.name === owner(key));
    if (!shard) {
      problems.add('owned by a shard the metadata does not list', key);
      continue;
    }
    const values = shard.members.map((m) => engines.get(m)?.get(key));
    const value = values[0];
    if (values.some((v) => v !== value)) problems.add(`held differently by ${shard.name}'s members`, `${key} (${values.map((v) => v ?? 'absent').join(' / ')})`);
    else if (value === undefined && !expectation.mayBeAbsent) problems.add(`lost (absent from every member of ${shard.name})`, key);
    else if (value !== undefined && !expectation.values.includes(value)) problems.add('holding a value never written to it', `${key} = ${value.slice(0, 40)}`);
  }
  return problems.lines();
}

async function readEngine(node: NodeProcess, dataDir: string): Promise<Map<string, string>> {
  if (!node.running) return engineKeys(dataDir);
  const copy = await mkdtemp(path.join(os.tmpdir(), 'distribkv-engine-copy-'));
  try {
    node.signal('SIGSTOP');
    try {
      await cp(path.join(dataDir, 'db'), path.join(copy, 'db'), { recursive: true });
    } finally {
      node.signal('SIGCONT');
    }
    return await engineKeys(copy);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

/** Broken rules, counted by kind, with a few example keys each. */
class Problems {
  private readonly byKind = new Map<string, { count: number; examples: string[] }>();

  add(kind: string, example: string): void {
    const entry = this.byKind.get(kind) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < EXAMPLES) entry.examples.push(example);
    this.byKind.set(kind, entry);
  }

  lines(): string[] {
    return [...this.byKind].map(([kind, { count, examples }]) => `${count} key(s) ${kind}, e.g. ${examples.join(', ')}`);
  }
}
