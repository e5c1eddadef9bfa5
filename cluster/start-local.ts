/**
 * `npm start`: runs every node of a config (default cluster.toml) as a child process on this
 * machine, data under ./data, shows each node as it becomes ready, then prints the live
 * topology (who leads now, from the cluster itself) and commands to try. It supervises: a node
 * that dies is reported with its exit code or signal while the rest keep serving (the control
 * plane fails its shard over), `--restart` brings it back after a delay, and a change of leader
 * is printed as it happens. Ctrl-C (SIGINT) or SIGTERM stops every node and waits for them.
 *
 *   npm start [-- --config FILE] [--data DIR] [--restart [--restart-delay-ms MS]]
 *
 * Exit codes: 0 after a clean stop, 1 when the cluster could not start, 2 for bad arguments or
 * a bad config (one line on stderr, no stack).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseAddress } from '../protocol/address.ts';
import type { ClusterConfig } from '../protocol/config.ts';
import { loadConfig } from '../protocol/load-config.ts';
import { Topology, type TopologyJson } from '../protocol/topology.ts';
import { argumentProblem, portFree } from './start-checks.ts';

const USAGE = 'usage: npm start [-- --config FILE] [--data DIR] [--restart [--restart-delay-ms MS]]';
const READY_WAIT_MS = 60_000;
const STOP_WAIT_MS = 15_000;
const POLL_MS = 100;
const WATCH_MS = 1_000;
const RESTART_DELAY_MS_DEFAULT = 3_000;

interface Node {
  address: string;
  dataDir: string;
  process: ChildProcess;
  exited: Promise<void>;
}

interface Options {
  config: string;
  data: string;
  restart: boolean;
  restartDelayMs: number;
}

const nodes = new Map<string, Node>();
let stopping = false;

function fail(message: string, code: number): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(code);
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', default: 'cluster.toml' }, data: { type: 'string', default: 'data' },
        restart: { type: 'boolean', default: false }, 'restart-delay-ms': { type: 'string' }, help: { type: 'boolean', default: false },
      },
      strict: true, allowPositionals: false,
    }));
  } catch (error) {
    fail(`${argumentProblem(error)}; ${USAGE}`, 2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\nRuns every node of the config on this machine, prints the live topology, and supervises them (docs/operations.md).\n`);
    process.exit(0);
  }
  const delayText = values['restart-delay-ms'];
  const restartDelayMs = delayText === undefined ? RESTART_DELAY_MS_DEFAULT : Number(delayText);
  if (!Number.isSafeInteger(restartDelayMs) || restartDelayMs < 0) fail(`--restart-delay-ms must be a whole number of milliseconds, got ${JSON.stringify(delayText)}`, 2);
  return { config: values.config, data: values.data, restart: values.restart, restartDelayMs };
}

/** Every node the config names: the shards' nodes, then controllers that belong to no shard. */
function addressesOf(config: ClusterConfig): { address: string; group: string }[] {
  const inShards = config.shards.flatMap((s) => [s.leader, ...s.replicas].map((address) => ({ address, group: s.name })));
  const extra = config.controllers.filter((c) => !inShards.some((n) => n.address === c)).map((address) => ({ address, group: 'controllers' }));
  return [...inShards, ...extra];
}

function startNode(options: Options, address: string, group: string): Node {
  const dataDir = path.join(options.data, group, address.replace(/[^A-Za-z0-9.-]/g, '_'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'cluster/node.ts', '--config', options.config, '--node', address, '--data', dataDir], {
    stdio: ['ignore', 'inherit', 'pipe'], env: { DISTRIBKV_LOG_LEVEL: 'warn', ...process.env },
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) process.stderr.write(`[${address}] ${line}\n`);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    resolve();
    if (stopping) return;
    say(`node ${address} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; the others keep serving${options.restart ? `; restarting it in ${options.restartDelayMs} ms` : ' (npm start -- --restart brings dead nodes back)'}`);
    if (options.restart) void delay(options.restartDelayMs).then(() => {
      if (!stopping) nodes.set(address, startNode(options, address, group));
    });
  }));
  return { address, dataDir, process: child, exited };
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function health(address: string): Promise<{ ready: boolean; waiting?: string; role?: string; shard?: string | null } | undefined> {
  try {
    const res = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(1000) });
    return res.ok ? await res.json() as { ready: boolean; waiting?: string; role?: string; shard?: string | null } : undefined;
  } catch {
    return undefined;
  }
}

async function waitReady(all: { address: string }[]): Promise<void> {
  const deadline = Date.now() + READY_WAIT_MS;
  const ready = new Set<string>();
  while (ready.size < all.length) {
    if (stopping) return;
    for (const { address } of all) {
      if (ready.has(address)) continue;
      const node = nodes.get(address)!;
      if (node.process.exitCode !== null || node.process.signalCode !== null) throw new Error(`node ${address} exited while starting (its log is above)`);
      const h = await health(address);
      if (h?.ready) {
        ready.add(address);
        say(`  [${ready.size}/${all.length}] ${address} ready: ${h.role}${h.shard ? ` of ${h.shard}` : ''}`);
      }
    }
    if (Date.now() > deadline) {
      const waiting = await Promise.all(all.filter((n) => !ready.has(n.address)).map(async (n) => `${n.address} (${(await health(n.address))?.waiting ?? 'not answering'})`));
      throw new Error(`not ready within ${READY_WAIT_MS} ms: ${waiting.join(', ')}`);
    }
    await delay(POLL_MS);
  }
}

/** The topology the cluster serves now, from the first node that answers. */
async function liveTopology(): Promise<TopologyJson | undefined> {
  for (const address of nodes.keys()) {
    try {
      const res = await fetch(`http://${address}/cluster`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return Topology.fromJson(await res.json()).toJson();
    } catch {
      // The next node may answer.
    }
  }
  return undefined;
}

async function stopAll(reason: string, exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say(`npm start: stopping ${nodes.size} nodes (${reason})`);
    for (const n of nodes.values()) n.process.kill('SIGTERM');
    const all = Promise.all([...nodes.values()].map((n) => n.exited));
    const late = await Promise.race([all.then(() => false), delay(STOP_WAIT_MS).then(() => true)]);
    if (late) {
      say(`npm start: nodes still running after ${STOP_WAIT_MS} ms; killing them`);
      for (const n of nodes.values()) if (n.process.exitCode === null) n.process.kill('SIGKILL');
      await all;
    }
  }
  process.exit(exitCode);
}

/** Prints each change of a shard's leader as the cluster reports it. */
async function watchLeaders(initial: TopologyJson): Promise<void> {
  let known = new Map(initial.shards.map((s) => [s.name, `${s.leader}@${s.term}`]));
  while (!stopping) {
    await delay(WATCH_MS);
    const now = await liveTopology();
    if (!now) continue;
    for (const s of now.shards) {
      if (known.get(s.name) !== `${s.leader}@${s.term}`) say(`${s.name}: leader is now ${s.leader} (term ${s.term})`);
    }
    known = new Map(now.shards.map((s) => [s.name, `${s.leader}@${s.term}`]));
  }
}

function banner(options: Options, topology: TopologyJson, config: ClusterConfig): void {
  const first = topology.shards[0]!.leader;
  say([
    '',
    `distribKV is up: ${topology.shards.length} shards (metadata version ${topology.version}), data under ${options.data}/, controllers ${config.controllers.join(', ')}`,
    ...topology.shards.map((s) => `  ${s.name}: leader ${s.leader} (term ${s.term}), replicas ${s.replicas.join(', ') || 'none'}`),
    '',
    'Try:',
    `  curl -i -X PUT --data 'hello' http://${first}/kv/greeting   # 204, or 307 to the owning leader`,
    `  curl -L http://${first}/kv/greeting                      # -L follows the 307`,
    `  curl http://${first}/cluster`,
    '  npm run kv -- put greeting hello',
    '  npm run kv -- get greeting',
    '  npm run kv -- status                                    # each node\'s own view',
    `  open http://${first}/                          # the live dashboard`,
    '  kill -9 a leader\'s pid: its shard fails over to an in-sync replica within a few seconds',
    '',
    'Ctrl-C stops every node.',
    '',
  ].join('\n'));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  let config: ClusterConfig;
  try {
    config = await loadConfig(options.config);
  } catch (error) {
    fail((error as Error).message.split('\n')[0]!, 2);
  }
  const all = addressesOf(config);
  const taken = (await Promise.all(all.map(async (n) => {
    const { host, port } = parseAddress(n.address)!;
    return (await portFree(host, port)) ? undefined : n.address;
  }))).filter(Boolean);
  if (taken.length > 0) fail(`${taken.join(', ')} already in use (another cluster, or an npm start still running?); stop it, or start with another --config`, 1);
  process.on('SIGINT', () => void stopAll('SIGINT', 0));
  process.on('SIGTERM', () => void stopAll('SIGTERM', 0));
  say(`npm start: starting ${all.length} nodes from ${options.config}`);
  for (const { address, group } of all) nodes.set(address, startNode(options, address, group));
  try {
    await waitReady(all);
  } catch (error) {
    say(`npm start: ${(error as Error).message}`);
    await stopAll('start-up failure', 1);
  }
  const topology = await liveTopology();
  if (!topology) await stopAll('no node answers GET /cluster', 1);
  banner(options, topology!, config);
  void watchLeaders(topology!);
}

await main();
