/**
 * `kv status`: one row per node, from each node itself (GET /healthz, public, and GET
 * /internal/state, which needs the token): address, shard, role, control-plane role, term, last
 * sequence number, lag behind its leader (ops from the replica, ms from its leader), in sync,
 * keys (an estimate), bytes on disk, uptime, health. A node that does not answer is a row that
 * says why (refused, timeout, 401). `--json` prints the rows as JSON for scripts.
 *
 * Which nodes: the shards' nodes from the topology, the controllers (from the config and from
 * what the nodes say), and the spare nodes the metadata lists. Exit 1 when a node is down or
 * would not show its state, so a script can test it.
 */
import type { TopologyJson } from '../../protocol/topology.ts';
import type { Command } from './data-commands.ts';
import type { ClusterAccess, Context } from './context.ts';
import { askNode, type NodeAnswer } from './node-ask.ts';
import { formatBytes, formatDuration, table } from './output.ts';

export interface StatusRow {
  address: string;
  shard: string | null;
  role: string | null;
  /** The node's role in the control plane's Raft group, if it is a controller. */
  controller: string | null;
  term: number | null;
  lastSequence: number | null;
  lagOps: number | null;
  lagMs: number | null;
  inSync: boolean | null;
  keys: number | null;
  diskBytes: number | null;
  uptimeMs: number | null;
  health: 'ready' | 'waiting' | 'down';
  /** Why it is down or waiting, or why its state is missing (e.g. 401 UNAUTHORIZED). */
  why: string | null;
}

interface Asked {
  address: string;
  health: NodeAnswer;
  state: NodeAnswer;
}

type State = {
  shard?: string | null; role?: string; term?: number | null; lastSequence?: number; uptimeMs?: number;
  engine?: { keysEstimate?: number; diskBytes?: number };
  nodes?: { controllers?: string[]; unassigned?: string[] };
  control?: { role?: string } | null;
  replication?: { follower?: { lagSeq?: number }; leader?: { followers?: { node: string; lagMs: number | null; inSync: boolean }[] } };
};

export const status: Command = {
  name: 'status', synopsis: 'status [--json]', summary: 'every node\'s own view: role, term, lag, size, health', arity: [0, 0],
  options: { json: { type: 'boolean' } },
  details: `Asks every node (the shards', the controllers, the spares) about itself and prints one row each:
address, shard, role, control-plane role, term, last sequence number, lag behind its leader (ops,
ms), in sync, keys (estimated), bytes on disk, uptime, health. A node that does not answer shows
why (refused, timeout, 401). Needs the token for each node's state when the cluster has one.
Exit 1 when a node is down or would not show its state.
  --json   the rows as a JSON array`,
  async run(context) {
    const access = await context.cluster();
    const { topology, why } = await topologyOrWhy(context);
    const asked = await askAll(access, topology);
    const rows = asked.map((a) => rowOf(a, topology, asked));
    if (context.values['json']) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else process.stdout.write(render(rows, topology));
    if (why) process.stderr.write(`kv: the topology could not be read (${why}); the rows are the nodes kv was pointed at\n`);
    if (rows.some((r) => r.why?.startsWith('401'))) process.stderr.write('kv: a node refused its state without the token: set DISTRIBKV_TOKEN or pass --token-file FILE\n');
    return rows.every((r) => r.health !== 'down' && !r.why?.startsWith('401')) && !why ? 0 : 1;
  },
};

async function topologyOrWhy(context: Context): Promise<{ topology: TopologyJson | undefined; why: string | undefined }> {
  try {
    return { topology: (await context.client()).currentTopology().toJson(), why: undefined };
  } catch (error) {
    return { topology: undefined, why: `${(error as { code?: string }).code ?? 'ERROR'}: ${(error as Error).message}` };
  }
}

/** Every node worth a row, each asked once; the nodes' own lists of controllers and spares widen the set. */
async function askAll(access: ClusterAccess, topology: TopologyJson | undefined): Promise<Asked[]> {
  const ask = async (address: string): Promise<Asked> => {
    const [health, state] = await Promise.all([askNode(address, '/healthz', access.token), askNode(address, '/internal/state', access.token)]);
    return { address, health, state };
  };
  const first = topology ? topology.shards.flatMap((s) => [s.leader, ...s.replicas]) : access.addresses;
  const known = new Set([...first, ...access.controllers]);
  const asked = await Promise.all([...known].map(ask));
  const more = new Set<string>();
  for (const a of asked) {
    const nodes = (a.state.json as State | undefined)?.nodes;
    for (const n of [...(nodes?.controllers ?? []), ...(nodes?.unassigned ?? [])]) if (!known.has(n)) more.add(n);
  }
  return [...asked, ...(await Promise.all([...more].map(ask)))];
}

function rowOf(a: Asked, topology: TopologyJson | undefined, all: readonly Asked[]): StatusRow {
  const health = a.health.json as { ready?: boolean; waiting?: string; shard?: string | null; role?: string } | undefined;
  const state = a.state.json as State | undefined;
  const shard = state?.shard ?? health?.shard ?? topology?.shards.find((s) => s.leader === a.address || s.replicas.includes(a.address))?.name ?? null;
  const leader = topology?.shards.find((s) => s.name === shard)?.leader;
  const leaderState = all.find((x) => x.address === leader)?.state.json as State | undefined;
  const asFollower = leaderState?.replication?.leader?.followers?.find((f) => f.node === a.address);
  const role = state?.role ?? health?.role ?? null;
  return {
    address: a.address, shard, role, controller: state?.control?.role ?? null,
    term: state?.term ?? null, lastSequence: state?.lastSequence ?? null,
    lagOps: role === 'replica' ? state?.replication?.follower?.lagSeq ?? null : null,
    lagMs: role === 'replica' ? asFollower?.lagMs ?? null : null,
    inSync: role === 'leader' ? true : asFollower ? asFollower.inSync : null,
    keys: state?.engine?.keysEstimate ?? null, diskBytes: state?.engine?.diskBytes ?? null, uptimeMs: state?.uptimeMs ?? null,
    health: a.health.error ? 'down' : health?.ready ? 'ready' : 'waiting',
    why: a.health.error ?? (health?.ready ? null : `waiting for ${health?.waiting ?? '?'}`) ?? a.state.error ?? null,
  };
}

function render(rows: readonly StatusRow[], topology: TopologyJson | undefined): string {
  const text = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
  const lines = [['NODE', 'SHARD', 'ROLE', 'CONTROL', 'TERM', 'LAST SEQ', 'LAG OPS', 'LAG MS', 'IN SYNC', 'KEYS~', 'DISK', 'UP', 'HEALTH']];
  for (const r of rows) {
    const health = r.health === 'down' ? `down (${r.why})` : r.why ? `${r.health} (${r.why})` : r.health;
    lines.push([
      r.address, text(r.shard), text(r.role), text(r.controller), text(r.term), text(r.lastSequence), text(r.lagOps), text(r.lagMs),
      r.inSync === null ? '-' : r.inSync ? 'yes' : 'no', text(r.keys), r.diskBytes === null ? '-' : formatBytes(r.diskBytes),
      r.uptimeMs === null ? '-' : formatDuration(r.uptimeMs), health,
    ]);
  }
  const up = rows.filter((r) => r.health !== 'down').length;
  const head = topology ? `metadata version ${topology.version}, ${topology.shards.length} shards, ${rows.length} nodes, ${up} answering\n` : '';
  return `${head}${table(lines)}`;
}
