/**
 * `npm start` (cluster/start-local.ts) tells the truth: it prints each node as it becomes ready,
 * then the banner with the live topology (asked of the cluster, not read from the config), only
 * once every node of its own is ready; the start-up logs no stack, though replicas start before
 * their leaders and are refused at first; Ctrl-C (SIGTERM here) stops every node and exits 0.
 * When a port of the config is taken, it says so in one line, exits 1 and prints no banner (the
 * bad-input table in bad-input-commands.test.ts checks that line).
 *
 * A real run: the script as `npm start` runs it, on a config of one shard (a leader and a
 * replica, the controllers among them) on free ports, data in a temporary directory. Waits are
 * polled with generous bounds; the process group is killed in cleanup whatever happens.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { freePorts } from '../helpers/free-ports.ts';
import { ROOT } from '../helpers/run-command.ts';

const START_WAIT_MS = 240_000;
const STOP_WAIT_MS = 60_000;

let child: ChildProcess | undefined;
let dir: string | undefined;

after(async () => {
  // start-local.ts runs in its own process group with its nodes: one kill reaches them all.
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean, output: () => string, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms; output:\n${output()}`);
    await delay(100);
  }
}

test('npm start shows progress, then the live topology once its nodes are ready, logs no stack, and stops cleanly', { timeout: START_WAIT_MS + STOP_WAIT_MS + 30_000 }, async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-start-local-'));
  const [leaderPort, replicaPort] = await freePorts(2);
  const leader = `127.0.0.1:${leaderPort}`;
  const replica = `127.0.0.1:${replicaPort}`;
  const config = path.join(dir, 'cluster.toml');
  await writeFile(config, `[cluster]\ncontrollers = ["${leader}"]\n\n[[shards]]\nname = "s0"\nleader = "${leader}"\nreplicas = ["${replica}"]\n`);

  child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'cluster/start-local.ts'), '--config', config, '--data', path.join(dir, 'data')], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DISTRIBKV_TOKEN: '', DISTRIBKV_INTERNAL_TOKEN: '', DISTRIBKV_LOG_LEVEL: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  const output = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;

  await until('the banner', () => stdout.includes('distribKV is up') || child!.exitCode !== null, output, START_WAIT_MS);
  assert.equal(child.exitCode, null, `npm start exited before its banner; ${output()}`);
  const lines = stdout.split('\n');
  const bannerAt = lines.findIndex((l) => l.startsWith('distribKV is up'));
  assert.match(lines[0]!, new RegExp(`^npm start: starting 2 nodes from ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  const progress = lines.slice(0, bannerAt).filter((l) => /^ {2}\[\d\/2\] /.test(l));
  assert.deepEqual(progress.map((l) => /\[(\d)\/2\]/.exec(l)![1]), ['1', '2'], `one progress line per node before the banner; ${output()}`);
  assert.ok(progress.some((l) => l.includes(`${leader} ready`)) && progress.some((l) => l.includes(`${replica} ready`)), output());
  assert.match(stdout, new RegExp(`^ {2}s0: leader ${leader} \\(term \\d+\\), replicas ${replica}$`, 'm'), 'the banner shows the live topology');
  assert.match(stdout, new RegExp(`open http://${leader}/ +# the live dashboard`));

  // Every node's log line is prefixed with its address; none carries a stack.
  assert.doesNotMatch(stderr, /"stack"|\n\s+at \S+ \(/, `no stack in the start-up's logs; ${output()}`);

  process.kill(child.pid!, 'SIGTERM');
  const code = await Promise.race([exited, delay(STOP_WAIT_MS, undefined, { ref: false }).then(() => 'still running' as const)]);
  assert.equal(code, 0, `exit code after SIGTERM; ${output()}`);
});
