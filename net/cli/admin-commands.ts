/**
 * The CLI's commands about the cluster rather than keys: the topology (cluster), where a key
 * lives (keyslot), adding and removing shards (shard), and moving a shard's leadership by hand
 * (transfer, promote). The admin ones need the token when the cluster has one.
 */
import { canonicalAddress } from '../../protocol/address.ts';
import { hash64 } from '../../protocol/ring.ts';
import type { Client } from '../client.ts';
import { UsageError } from './args.ts';
import type { Command } from './data-commands.ts';
import { askNode } from './node-ask.ts';
import { table } from './output.ts';

const encoder = new TextEncoder();

export const cluster: Command = {
  name: 'cluster', synopsis: 'cluster', summary: 'the topology: shards, leaders, replicas, a migration', arity: [0, 0], options: {},
  details: 'Prints the topology the cluster serves now (GET /cluster), each node\'s health (GET /healthz), and a migration\'s progress.\nkv status shows each node\'s own view in more detail.',
  async run({ client }) {
    const topology = (await (await client()).refreshTopology()).toJson();
    const rows = [['SHARD', 'ROLE', 'ADDRESS', 'TERM', 'HEALTH']];
    const healths = await Promise.all(topology.shards.flatMap((s) => [s.leader, ...s.replicas]).map(async (a) => [a, await health(a)] as const));
    const healthOf = new Map(healths);
    for (const s of topology.shards) {
      rows.push([s.name, 'leader', s.leader, String(s.term ?? ''), healthOf.get(s.leader)!]);
      for (const r of s.replicas) rows.push([s.name, 'replica', r, String(s.term ?? ''), healthOf.get(r)!]);
    }
    const m = topology.migration;
    const migration = m
      ? `\nmigration ${m.id ?? ''} (${m.kind ?? ''} ${m.shard ?? ''}) to ring ${m.to.join(',')}:\n${m.moves.map((x) => `  ${x.giver} → ${x.receiver}  ${x.state}${x.cleaned ? ', cleaned' : ''}  through seq ${x.through ?? 0}`).join('\n')}\n`
      : '';
    process.stdout.write(`metadata version ${topology.version}, ring ${topology.ring.hash} ${topology.ring.placement} with ${topology.ring.vnodes} vnodes per shard\n${table(rows)}${migration}`);
    return 0;
  },
};

async function health(address: string): Promise<string> {
  const answer = await askNode(address, '/healthz', undefined);
  if (answer.error) return `down (${answer.error})`;
  const body = answer.json as { ready?: boolean; waiting?: string };
  return body.ready ? 'up' : `waiting for ${body.waiting ?? '?'}`;
}

export const keyslot: Command = {
  name: 'keyslot', synopsis: 'keyslot KEY', summary: 'which shard and nodes hold a key', arity: [1, 1], options: {},
  details: 'Prints the shard that owns KEY now, its leader and replicas, and KEY\'s 64-bit ring hash (XXH64);\nduring a migration, the move the key belongs to. Asks the cluster for its topology; stores nothing.',
  async run({ args, client }) {
    const key = encoder.encode(args[0]!);
    const topology = (await client()).currentTopology();
    const owner = topology.ownerOf(key);
    const shard = topology.shard(owner.shard)!;
    const { high, low } = hash64(key);
    const hash = `${high.toString(16).padStart(8, '0')}${low.toString(16).padStart(8, '0')}`;
    const move = owner.move ? `\nmoving: ${owner.move.giver} → ${owner.move.receiver} (${owner.move.state})` : '';
    process.stdout.write(`shard ${shard.name}\nleader ${shard.leader}\nreplicas ${shard.replicas.join(', ') || 'none'}\nhash 0x${hash}${move}\n`);
    return 0;
  },
};

export const shard: Command = {
  name: 'shard', synopsis: 'shard add|remove NAME', summary: 'add or remove a shard (moves keys live)', arity: [2, 2],
  options: { leader: { type: 'string' }, replicas: { type: 'string' } },
  details: `shard add NAME --leader ADDR [--replicas ADDR,…]
    adds a shard of nodes started beforehand as spares (cluster/node.ts --node ADDR with an address
    no shard has) and moves its share of the keys to it; returns once the migration is planned
shard remove NAME
    moves a shard's keys to the others, then releases its nodes
Follow the migration with kv status, kv cluster or the dashboard (docs/resharding.md).`,
  async run({ args, values, client }) {
    const [action, name] = args as [string, string];
    let path: string;
    let body: Record<string, unknown>;
    if (action === 'add') {
      if (typeof values['leader'] !== 'string') throw new UsageError('shard add needs --leader ADDR (a node started with --node ADDR that no shard has)', 'shard');
      const replicas = (typeof values['replicas'] === 'string' ? values['replicas'] : '').split(',').filter(Boolean);
      path = '/admin/shard/add';
      body = { name, members: [address(values['leader'], '--leader'), ...replicas.map((r) => address(r, '--replicas'))] };
    } else if (action === 'remove') {
      if (values['leader'] !== undefined || values['replicas'] !== undefined) throw new UsageError('shard remove takes only the shard name', 'shard');
      path = '/admin/shard/remove';
      body = { name };
    } else {
      throw new UsageError(`unknown shard action ${JSON.stringify(action)} (add or remove)`, 'shard');
    }
    const answer = await (await client()).admin(path, body) as { version: number; migration: { id: number; moves: { giver: string; receiver: string }[] } | null };
    const moves = answer.migration?.moves.map((m) => `${m.giver} → ${m.receiver}`).join(', ') ?? 'none';
    process.stderr.write(`migration ${answer.migration?.id ?? '-'} planned at metadata version ${answer.version}: moves ${moves}; follow it with kv status\n`);
    return 0;
  },
};

interface ElectionReport {
  shard: string;
  leader: string;
  term: number;
  previous: string;
  metadataVersion: number;
}

export const transfer: Command = {
  name: 'transfer', synopsis: 'transfer SHARD [--to ADDR]', summary: 'hand a shard\'s leadership to an in-sync replica', arity: [1, 1],
  options: { to: { type: 'string' } },
  details: `Asks SHARD's leader (POST /admin/transfer) to stop taking writes, wait until the target has
applied everything, and hand over: no acknowledged write is lost, writes pause for a moment.
  --to ADDR   the replica to hand over to (default: the in-sync replica that applied the most)`,
  async run({ args, values, client }) {
    const c = await client();
    const leader = shardInfo(c, args[0]!).leader;
    const to = values['to'] === undefined ? undefined : address(values['to'], '--to');
    const report = await c.admin(`/admin/transfer${to ? `?to=${encodeURIComponent(to)}` : ''}`, {}, { node: leader }) as ElectionReport;
    process.stderr.write(`${report.shard}: ${report.leader} leads at term ${report.term} (handed over by ${report.previous}; metadata version ${report.metadataVersion})\n`);
    return 0;
  },
};

export const promote: Command = {
  name: 'promote', synopsis: 'promote NODE [--unclean]', summary: 'make a replica its shard\'s leader (after its leader died)', arity: [1, 1],
  options: { unclean: { type: 'boolean' } },
  details: `Asks NODE (POST /admin/promote) to become its shard's leader. A clean promotion needs NODE in the
in-sync set and the old leader's lease over (the control plane does this by itself within seconds
of a leader's death; this is for when you want a particular replica).
  --unclean   promote even though NODE is not in sync: acknowledged writes it lacks are lost`,
  async run({ args, values, client }) {
    const node = address(args[0]!, 'NODE');
    const unclean = values['unclean'] === true;
    const report = await (await client()).admin(`/admin/promote${unclean ? '?unclean=true' : ''}`, {}, { node }) as ElectionReport;
    process.stderr.write(`${report.shard}: ${report.leader} leads at term ${report.term} (was ${report.previous}${unclean ? '; unclean: writes it lacked are lost' : ''})\n`);
    return 0;
  },
};

function shardInfo(client: Client, name: string) {
  const info = client.currentTopology().shard(name);
  if (!info) throw new UsageError(`no shard ${JSON.stringify(name)}; the shards are ${client.currentTopology().shards.map((s) => s.name).join(', ')}`, 'transfer');
  return info;
}

function address(text: unknown, what: string): string {
  const canonical = typeof text === 'string' ? canonicalAddress(text) : undefined;
  if (!canonical) throw new UsageError(`${what} must be host:port, got ${JSON.stringify(text)}`);
  return canonical;
}
