/**
 * How long one CLI call takes, end to end (process start to exit), against a real one-node
 * cluster: `kv get KEY` run four ways, each CALLS times in turn, reporting the median and the
 * 90th percentile. The ways: bin/kv directly (the bundled CLI), `npm run kv` (what the README
 * shows), the same CLI from its TypeScript sources through tsx (how `npm run kv` started before
 * the bundle), and `node -e ''` (what a Node process costs here at all).
 *
 *   npm run bench:cli [-- --calls N]
 *
 * Issue 17 asks ≤ 0.3 s directly and ≤ 0.6 s through npm; docs/decisions.md has the numbers.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client } from '../net/index.ts';
import { startCluster } from '../test/helpers/cluster-harness.ts';
import { ROOT } from '../test/helpers/run-command.ts';

const CALLS_DEFAULT = 20;

function timeCalls(command: string, args: string[], calls: number): number[] {
  const ms: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    const run = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DISTRIBKV_TOKEN: '' } });
    ms.push(performance.now() - started);
    if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  }
  return ms.sort((a, b) => a - b);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: String(CALLS_DEFAULT) } } });
  const calls = Number(values.calls);
  if (!Number.isInteger(calls) || calls < 1) throw new Error(`--calls must be a whole number of at least 1, got ${values.calls}`);
  const cluster = await startCluster({ shards: 1 });
  try {
    const node = cluster.shards[0]!.leader;
    const client = await Client.connect([node]);
    await client.put('bench-cli', 'hello');
    client.close();
    const get = ['--cluster', node, 'get', 'bench-cli'];
    const ways: [string, string, string[]][] = [
      ['node -e \'\' (a bare Node start)', process.execPath, ['-e', '']],
      ['bin/kv get (bundled, run directly)', process.execPath, [path.join(ROOT, 'bin', 'kv'), ...get]],
      ['npm run kv -- get (bundled, through npm)', 'npm', ['run', '--silent', 'kv', '--', ...get]],
      ['node --import tsx net/cli.ts get (the old start)', process.execPath, ['--import', 'tsx', path.join(ROOT, 'net', 'cli.ts'), ...get]],
    ];
    console.log(`${calls} calls each, one after another; ms from spawn to exit`);
    for (const [name, command, args] of ways) {
      const ms = timeCalls(command, args, calls);
      console.log(`${name.padEnd(50)} median ${quantile(ms, 0.5).toFixed(0).padStart(5)}  p90 ${quantile(ms, 0.9).toFixed(0).padStart(5)}`);
    }
  } finally {
    await cluster.close();
  }
}

await main();
