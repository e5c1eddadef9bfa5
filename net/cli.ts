/**
 * The command-line client: `npm run kv -- <command>` (or `npx tsx net/cli.ts <command>`).
 * It lives in net/ because it is a client: net uses cluster's pure modules, never the reverse.
 *
 *   get KEY              prints the value's bytes to stdout
 *   put KEY [VALUE]      stores VALUE, or stdin when VALUE is left out
 *   del KEY
 *   scan [--gte K] [--gt K] [--lt K] [--lte K] [--limit N]
 *                        prints "key<TAB>value" lines in key order, across all shards
 *   cluster              the topology as a table, with each node's health, and a migration's progress
 *   shard add NAME --leader ADDR [--replicas ADDR,…]
 *                        adds a shard of nodes started beforehand (cluster/node.ts --node ADDR) and
 *                        moves its share of the keys to it; returns once the migration is planned
 *   shard remove NAME    moves a shard's keys to the others, then releases its nodes
 *
 * Finds the cluster from --cluster HOST:PORT[,HOST:PORT…], else from the addresses in
 * --config (default cluster.toml). The token comes from DISTRIBKV_TOKEN, else the file
 * --token-file names (its first line), else the config; never from the command line, where
 * every user of the machine can read it in the process list (`--token` is refused).
 * Exit codes: 0 done, 1 failed (or key not found), 2 bad usage.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig, Topology } from '../protocol/index.ts';
import { Client, ClientError } from './index.ts';

const USAGE = `usage: [DISTRIBKV_TOKEN=…] kv [--cluster HOST:PORT,…] [--config FILE] [--token-file FILE] <command>
  get KEY | put KEY [VALUE] | del KEY | cluster
  scan [--gte KEY] [--gt KEY] [--lt KEY] [--lte KEY] [--limit N]
  shard add NAME --leader ADDR [--replicas ADDR,…] | shard remove NAME`;

class UsageError extends Error {}

const OPTIONS = {
  cluster: { type: 'string' },
  config: { type: 'string', default: 'cluster.toml' },
  'token-file': { type: 'string' },
  /** Refused, with a message: a token in argv is in the process list. */
  token: { type: 'string' },
  gt: { type: 'string' },
  gte: { type: 'string' },
  lt: { type: 'string' },
  lte: { type: 'string' },
  limit: { type: 'string' },
  leader: { type: 'string' },
  replicas: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (values.token !== undefined) {
    throw new UsageError('--token would show the token to every user of this machine (ps); set DISTRIBKV_TOKEN or pass --token-file FILE');
  }
  const [command, ...args] = positionals;
  const client = await connect(values);
  try {
    if (command === 'shard') return await shard(client, args, values);
    return await run(client, command!, args, values);
  } finally {
    client.close();
  }
}

async function connect(values: Values): Promise<Client> {
  let addresses: string[];
  let token = process.env['DISTRIBKV_TOKEN'] || (values['token-file'] === undefined ? undefined : await readTokenFile(values['token-file']));
  if (values.cluster) {
    addresses = values.cluster.split(',').filter(Boolean);
  } else {
    const config = await loadConfig(values.config);
    addresses = Topology.fromConfig(config).addresses();
    token ??= config.token;
  }
  return Client.connect(addresses, { token: token || undefined });
}

/** The first line of a token file, without its line end. */
async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--token-file ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
  const token = text.split(/\r?\n/, 1)[0]!.trim();
  if (token === '') throw new UsageError(`--token-file ${JSON.stringify(file)} is empty`);
  return token;
}

async function run(client: Client, command: string, args: string[], values: Values): Promise<number> {
  const arity = (n: number, m = n) => {
    if (args.length < n || args.length > m) throw new UsageError(`${command} takes ${n === m ? n : `${n}-${m}`} argument(s), got ${args.length}`);
  };
  switch (command) {
    case 'get': {
      arity(1);
      const value = await client.get(args[0]!);
      if (value === undefined) {
        process.stderr.write(`not found: ${args[0]}\n`);
        return 1;
      }
      process.stdout.write(value);
      if (process.stdout.isTTY) process.stdout.write('\n');
      return 0;
    }
    case 'put': {
      arity(1, 2);
      const value = args[1] ?? (await readStdin());
      const seq = await client.put(args[0]!, value);
      process.stderr.write(`ok (seq ${seq})\n`);
      return 0;
    }
    case 'del':
      arity(1);
      process.stderr.write(`ok (seq ${await client.delete(args[0]!)})\n`);
      return 0;
    case 'scan':
      arity(0);
      return scan(client, values);
    case 'cluster':
      arity(0);
      process.stdout.write(await clusterTable(client));
      return 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/** `shard add` and `shard remove`: an admin request to any node, which passes it to the control plane. */
async function shard(client: Client, args: string[], values: Values): Promise<number> {
  const [action, name, ...rest] = args;
  if (rest.length > 0 || name === undefined) throw new UsageError('shard takes an action (add or remove) and a shard name');
  let path: string;
  let body: Record<string, unknown>;
  if (action === 'add') {
    if (!values.leader) throw new UsageError('shard add needs --leader ADDR (a node started with --node ADDR that no shard has)');
    const replicas = (values.replicas ?? '').split(',').filter(Boolean);
    path = '/admin/shard/add';
    body = { name, members: [values.leader, ...replicas] };
  } else if (action === 'remove') {
    if (values.leader || values.replicas) throw new UsageError('shard remove takes only the shard name');
    path = '/admin/shard/remove';
    body = { name };
  } else {
    throw new UsageError(`unknown shard action ${JSON.stringify(action)} (add or remove)`);
  }
  const answer = await client.admin(path, body) as { version: number; migration: { id: number; moves: { giver: string; receiver: string }[] } | null };
  const moves = answer.migration?.moves.map((m) => `${m.giver} → ${m.receiver}`).join(', ') ?? 'none';
  process.stderr.write(`migration ${answer.migration?.id ?? '-'} planned at metadata version ${answer.version}: moves ${moves}; follow it with \`kv cluster\`\n`);
  return 0;
}

async function scan(client: Client, values: Values): Promise<number> {
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(values.limit)}`);
  }
  const decoder = new TextDecoder();
  for await (const [key, value] of client.scan({ gt: values.gt, gte: values.gte, lt: values.lt, lte: values.lte, limit })) {
    process.stdout.write(`${decoder.decode(key)}\t${decoder.decode(value)}\n`);
  }
  return 0;
}

async function clusterTable(client: Client): Promise<string> {
  const topology = await client.refreshTopology();
  const rows = [['SHARD', 'ROLE', 'ADDRESS', 'HEALTH']];
  for (const shard of topology.shards) {
    rows.push([shard.name, 'leader', shard.leader, await health(shard.leader)]);
    for (const replica of shard.replicas) rows.push([shard.name, 'replica', replica, await health(replica)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  const json = topology.toJson();
  const m = json.migration;
  const migration = m
    ? `\nmigration ${m.id ?? ''} (${m.kind ?? ''} ${m.shard ?? ''}) to ring ${m.to.join(',')}:\n${m.moves.map((x) => `  ${x.giver} → ${x.receiver}  ${x.state}${x.cleaned ? ', cleaned' : ''}  through seq ${x.through ?? 0}`).join('\n')}\n`
    : '';
  return `metadata version ${json.version}, ring ${json.ring.hash} ${json.ring.placement} with ${json.ring.vnodes} vnodes per shard\n${lines.join('\n')}\n${migration}`;
}

async function health(address: string): Promise<string> {
  try {
    const res = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? 'up' : `HTTP ${res.status}`;
  } catch (error) {
    return `down (${(error as Error).message})`;
  }
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`kv: ${error.message}\n${USAGE}\n`);
      process.exit(2);
    }
    const code = error instanceof ClientError || (error as { code?: unknown }).code ? `${(error as { code: string }).code}: ` : '';
    process.stderr.write(`kv: ${code}${(error as Error).message}\n`);
    process.exit(1);
  },
);
