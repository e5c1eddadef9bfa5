/**
 * `npm start`: runs every node of a config (default cluster.toml) as a child process on this
 * machine, data under ./data, waits until each answers /healthz, prints the addresses and
 * commands to try, and on Ctrl-C (SIGINT) or SIGTERM stops them all and waits for them.
 *
 *   npm start [-- --config FILE] [--data DIR]
 *
 * If any node exits on its own, the rest are stopped too: half a cluster is not a demo.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../protocol/load-config.ts';
import { Topology } from '../protocol/topology.ts';

const HEALTHY_WAIT_MS = 30_000;
const STOP_WAIT_MS = 15_000;
const POLL_MS = 100;

interface Child {
  address: string;
  process: ChildProcess;
  exited: Promise<number | null>;
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { config: { type: 'string', default: 'cluster.toml' }, data: { type: 'string', default: 'data' } },
});
const configPath = values.config;
const config = await loadConfig(configPath);
const topology = Topology.fromConfig(config);
const children: Child[] = [];
let stopping = false;

for (const shard of topology.shards) {
  for (const address of [shard.leader, ...shard.replicas]) children.push(startNode(shard.name, address));
}
process.on('SIGINT', () => void stopAll('SIGINT', 0));
process.on('SIGTERM', () => void stopAll('SIGTERM', 0));

try {
  await Promise.all(children.map((c) => waitHealthy(c.address)));
} catch (error) {
  process.stderr.write(`start-local: ${(error as Error).message}\n`);
  await stopAll('startup failure', 1);
}
printWelcome();

function startNode(shard: string, address: string): Child {
  const dataDir = path.join(values.data, shard, address.replace(/[^A-Za-z0-9.-]/g, '_'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'cluster/node.ts', '--config', configPath, '--node', address, '--data', dataDir], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) process.stderr.write(`[${address}] ${line}\n`);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then((code) => {
    if (!stopping) {
      process.stderr.write(`start-local: node ${address} exited with code ${code}; stopping the others\n`);
      void stopAll('node exit', 1);
    }
  });
  return { address, process: child, exited };
}

async function waitHealthy(address: string): Promise<void> {
  const deadline = Date.now() + HEALTHY_WAIT_MS;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // Not listening yet; poll again until the deadline.
    }
    await delay(POLL_MS);
  }
  throw new Error(`node ${address} was not healthy within ${HEALTHY_WAIT_MS} ms`);
}

async function stopAll(reason: string, exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`start-local: stopping ${children.length} nodes (${reason})\n`);
  for (const c of children) c.process.kill('SIGTERM');
  const all = Promise.all(children.map((c) => c.exited));
  const late = await Promise.race([all.then(() => false), delay(STOP_WAIT_MS).then(() => true)]);
  if (late) {
    process.stderr.write(`start-local: nodes still running after ${STOP_WAIT_MS} ms; killing them\n`);
    for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
    await all;
  }
  process.exit(exitCode);
}

function printWelcome(): void {
  const lines = [
    '',
    `distribKV is up: ${topology.shards.length} shards from ${configPath}, data under ${values.data}/`,
    ...topology.shards.map((s) => `  ${s.name}: leader ${s.leader}, replicas ${s.replicas.join(', ') || 'none'}`),
    '',
    'Try:',
    `  curl -i -X PUT --data 'hello' http://${topology.shards[0]!.leader}/kv/greeting   # 204, or 307 to the owning leader`,
    `  curl -L http://${topology.shards[0]!.leader}/kv/greeting                      # -L follows the 307`,
    `  curl http://${topology.shards[0]!.leader}/cluster`,
    '  npm run kv -- put greeting hello',
    '  npm run kv -- get greeting',
    '  npm run kv -- scan --limit 10',
    '  npm run kv -- cluster',
    '',
    'Ctrl-C stops every node.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}
