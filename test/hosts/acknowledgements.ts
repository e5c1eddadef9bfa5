/**
 * Who acknowledged what: every write a workload saw acknowledged (204), with the node that
 * answered and the `X-Shard` and `X-Term` it answered with, and the check built on them:
 * never two nodes acknowledging writes for one shard in the same term (a split brain would do
 * exactly that: an old leader that still believes it leads, beside the new one, both at the
 * old term, or two leaders elected at one term).
 *
 * Pure and synchronous; times are the History's clock.
 */

export interface Acknowledgement {
  /** The History's operation id of the write. */
  id: number;
  key: string;
  value: string;
  /** The node that sent the 204 (the last hop, after redirects). */
  node: string;
  /** `X-Shard` and `X-Term` of the 204; undefined if the header was missing (itself a fault). */
  shard: string | undefined;
  term: number | undefined;
  invokeTime: number;
  /** When the 204 arrived. */
  time: number;
}

export interface TermConflict {
  shard: string;
  term: number;
  /** Every node that acknowledged a write of `shard` at `term`, with how many. */
  nodes: Map<string, number>;
  explanation: string;
}

/**
 * Every (shard, term) at which more than one node acknowledged writes.
 *
 * @example
 * ```ts
 * findTermConflicts([
 *   { id: 0, key: 'k', value: 'a', node: 'n1', shard: 's', term: 1, invokeTime: 0, time: 1 },
 *   { id: 1, key: 'k', value: 'b', node: 'n2', shard: 's', term: 1, invokeTime: 2, time: 3 },
 * ]);   // [{ shard: 's', term: 1, nodes: Map { n1 => 1, n2 => 1 }, … }]
 * ```
 */
export function findTermConflicts(acks: readonly Acknowledgement[]): TermConflict[] {
  const byShardTerm = new Map<string, { shard: string; term: number; nodes: Map<string, number>; first: Map<string, Acknowledgement> }>();
  for (const a of acks) {
    if (a.shard === undefined || a.term === undefined) continue;
    const id = `${a.shard}\u0000${a.term}`;
    const entry = byShardTerm.get(id) ?? { shard: a.shard, term: a.term, nodes: new Map(), first: new Map() };
    entry.nodes.set(a.node, (entry.nodes.get(a.node) ?? 0) + 1);
    if (!entry.first.has(a.node)) entry.first.set(a.node, a);
    byShardTerm.set(id, entry);
  }
  const conflicts: TermConflict[] = [];
  for (const { shard, term, nodes, first } of byShardTerm.values()) {
    if (nodes.size < 2) continue;
    const who = [...nodes].map(([node, n]) => `${node} (${n} writes, first op ${first.get(node)!.id} at ${first.get(node)!.time.toFixed(1)} ms)`).join(', ');
    conflicts.push({ shard, term, nodes, explanation: `shard ${shard} at term ${term}: writes acknowledged by ${nodes.size} nodes: ${who}` });
  }
  return conflicts;
}

/** Acknowledgements that lack `X-Shard` or `X-Term` (a 204 must carry both). */
export function unlabelled(acks: readonly Acknowledgement[]): Acknowledgement[] {
  return acks.filter((a) => a.shard === undefined || a.term === undefined);
}

/** The first write of `shard` acknowledged after `afterTime` at a term above `aboveTerm`, if any. */
export function firstAcknowledged(acks: readonly Acknowledgement[], shard: string, afterTime: number, aboveTerm: number): Acknowledgement | undefined {
  let best: Acknowledgement | undefined;
  for (const a of acks) {
    if (a.shard !== shard || a.term === undefined || a.term <= aboveTerm || a.time <= afterTime) continue;
    if (!best || a.time < best.time) best = a;
  }
  return best;
}
