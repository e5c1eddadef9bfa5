/**
 * Commits per second through the control plane's Raft group, on real processes: three
 * controller-only nodes (and the one shard node the bootstrap needs), each its own process on
 * 127.0.0.1 with its Raft log fsynced on ext4 (or whatever the temp directory is on). The
 * bench keeps N proposals in flight through `POST /internal/control/propose` on the Raft
 * leader, over HTTP with keep-alive, for S seconds after a one-second warm-up, and prints
 * commits/s and the latency of each proposal (p50, p99).
 *
 *   node --import tsx bench/control-propose.ts [--in-flight 16] [--seconds 10] [--fresh]
 *
 * What a proposal is: `register` of an address. By default the address is already registered,
 * so the command goes through the whole group (appended, replicated, fsynced by a majority,
 * committed, applied) and the state machine refuses it as NO_CHANGE: the metadata, which every
 * answer carries whole, stays the same size. With `--fresh` each registers a new address: every
 * commit changes the metadata, which grows by one address per commit (and every answer with it).
 * Not in `npm test`; docs/control-plane.md quotes the figures.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { startCluster } from '../test/helpers/cluster-harness.ts';

const USAGE = 'usage: node --import tsx bench/control-propose.ts [--in-flight N] [--seconds S] [--fresh]';
const WARM_UP_MS = 1_000;

interface Options {
  inFlight: number;
  seconds: number;
  fresh: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({ args: argv, options: { 'in-flight': { type: 'string', default: '16' }, seconds: { type: 'string', default: '10' }, fresh: { type: 'boolean', default: false } } });
  const inFlight = Number(values['in-flight']);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(inFlight) || inFlight < 1 || inFlight > 1024) throw new Error(`--in-flight must be 1-1024, got ${values['in-flight']}\n${USAGE}`);
  if (!(seconds > 0 && seconds <= 600)) throw new Error(`--seconds must be in (0, 600], got ${values.seconds}\n${USAGE}`);
  return { inFlight, seconds, fresh: values.fresh };
}

/** One proposal; resolves with the status (200 committed and changed, 409 committed and refused as NO_CHANGE). */
function propose(agent: http.Agent, leader: string, node: string): Promise<number> {
  const colon = leader.lastIndexOf(':');
  const body = JSON.stringify({ command: { type: 'register', node } });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: leader.slice(0, colon), port: Number(leader.slice(colon + 1)), method: 'POST', path: '/internal/control/propose', agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function raftLeader(controllers: readonly string[]): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    for (const c of controllers) {
      const status = await fetch(`http://${c}/internal/control`).then((r) => r.json() as Promise<{ role: string }>);
      if (status.role === 'leader') return c;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no controller leads the control plane');
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const cluster = await startCluster({ shards: 1, controllers: 3, controlToml: '', env: { DISTRIBKV_LOG_LEVEL: 'warn' } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.inFlight });
  try {
    const leader = await raftLeader(cluster.controllers);
    const known = '10.0.0.1:1';
    if ((await propose(agent, leader, known)) !== 200) throw new Error(`registering ${known} on ${leader} failed`);
    const start = performance.now();
    const end = start + WARM_UP_MS + options.seconds * 1000;
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (performance.now() < end) {
        const n = next++;
        const node = options.fresh ? `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}:2` : known;
        const sentAt = performance.now();
        const status = await propose(agent, leader, node);
        const doneAt = performance.now();
        // Counted: proposals sent after the warm-up and answered within the measured window.
        if (sentAt < start + WARM_UP_MS || doneAt > end) continue;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200 || status === 409) latencies.push(doneAt - sentAt);
      }
    };
    await Promise.all(Array.from({ length: options.inFlight }, () => worker()));
    const sorted = latencies.sort((a, b) => a - b);
    const commitsPerSecond = latencies.length / options.seconds;
    console.log(`control plane, 3 controllers, ${options.inFlight} in flight, ${options.fresh ? 'fresh registrations (each changes the metadata)' : 'known registrations (committed, refused as NO_CHANGE)'}, ${options.seconds} s:`);
    console.log(`  ${Math.round(commitsPerSecond)} commits/s; latency p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms; answers ${JSON.stringify(Object.fromEntries(statuses))}`);
  } finally {
    agent.destroy();
    await cluster.close();
  }
}

main().catch((error: unknown) => {
  console.error(`bench/control-propose: ${(error as Error).message}`);
  process.exitCode = 1;
});
