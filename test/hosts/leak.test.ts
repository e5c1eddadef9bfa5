/**
 * The host harness leaves nothing behind: `ip netns list` and `ip -o link show` (in the root
 * namespace) are exactly as before after a normal close, after a start that fails half-way,
 * after an uncaught error in a process running the harness, after a SIGINT or SIGTERM to such
 * a process, and, for a process killed with SIGKILL, once the next run has started. No process
 * of a run survives it either, and its data directory is gone.
 *
 * The snapshots (leftovers.ts) leave out the runs of other live processes (npm test runs two
 * files at once); nothing of this file's runs is left out.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { killHard, spawnTs, type Child } from '../helpers/child.ts';
import { waitFor } from '../replication/nodes.ts';
import { hostsUnavailable } from './capability.ts';
import { HostCluster } from './host-cluster.ts';
import { isAlive, removeDeadRuns } from './host-network.ts';
import { hostLeftovers as snapshot, type Leftovers as Snapshot } from './leftovers.ts';
import { ip, parseNamespaceList } from './ip-command.ts';

const skip = await hostsUnavailable();

interface Ready {
  namespaces: string[];
  pids: number[];
  rootLink: string;
  dir: string;
}

/**
 * How long a holder may take to start its hosts and print `ready`: its nodes each get the
 * harness's bound to answer /healthz (test/helpers/cluster-harness.ts), so at least that.
 */
const HOLDER_READY_WAIT_MS = 180_000;
/** How long a holder that never got ready gets to remove what it made after SIGINT. */
const HOLDER_EXIT_WAIT_MS = 60_000;

async function startHolder(mode: 'hold' | 'throw'): Promise<{ child: Child; ready: Ready | undefined }> {
  const child = spawnTs('test/hosts/fixtures/hold-cluster.ts', [mode]);
  try {
    const line = await child.waitForLine((l) => l.startsWith('ready '), HOLDER_READY_WAIT_MS);
    return { child, ready: JSON.parse(line.slice('ready '.length)) as Ready };
  } catch (error) {
    // A holder that never got ready must not outlive the test: it would keep its hosts, and
    // this test's process (so npm test) running. SIGINT has it remove what it made.
    child.process.kill('SIGINT');
    await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, HOLDER_EXIT_WAIT_MS).unref())]);
    await killHard(child);
    throw error;
  }
}

async function assertRunExisted(ready: Ready): Promise<void> {
  const names = parseNamespaceList(await ip(['netns', 'list']));
  for (const ns of ready.namespaces) assert.ok(names.includes(ns), `namespace ${ns} should exist while the run holds it`);
  assert.equal(ready.namespaces.length, 3, `a bridge and two hosts, got ${ready.namespaces.join(', ')}`);
  assert.ok(ready.pids.length >= 4, `two nodes and two relays run inside, got pids ${ready.pids.join(', ')}`);
}

async function assertRunGone(before: Snapshot, ready: Ready): Promise<void> {
  await waitFor('every process of the run to be gone', () => ready.pids.every((p) => !isAlive(p)));
  assert.deepEqual(await snapshot(), before);
  assert.equal(existsSync(ready.dir), false, `the data directory ${ready.dir} should be removed`);
}

test('a cluster closed normally leaves ip netns list and ip link as they were', { skip }, async () => {
  const before = await snapshot();
  const cluster = await HostCluster.start({ shards: 1, replicas: 1, relays: true });
  let pids: number[] = [];
  try {
    const during = await snapshot();
    assert.equal(during.namespaces.length, before.namespaces.length + 3, 'a bridge and two host namespaces while it runs');
    assert.ok(during.links.some((l) => l.includes(`${cluster.network.plan.rootLink}@`)), 'its root link exists while it runs');
    pids = [...cluster.nodes.values()].map((n) => n.pid!);
  } finally {
    await cluster.close();
  }
  assert.ok(pids.every((p) => !isAlive(p)), 'every node is gone');
  assert.deepEqual(await snapshot(), before);
  assert.equal(existsSync(cluster.dir), false);
});

test('a start that fails half-way removes what it had made before rethrowing', { skip }, async () => {
  const before = await snapshot();
  // A config the node refuses (exit 2) once the network and relays exist.
  await assert.rejects(HostCluster.start({ shards: 1, replicas: 1, relays: true, replicationToml: 'min_insync = -1' }), /exited before it was ready/);
  assert.deepEqual(await snapshot(), before);
});

test('an uncaught error in a process running the harness still removes its hosts', { skip }, async () => {
  const before = await snapshot();
  const { child, ready } = await startHolder('throw');
  try {
    const exit = await child.exited;
    assert.equal(exit.code, 1, `the process fails as an uncaught error makes it: ${child.stderr()}`);
    assert.match(child.stderr(), /a planned failure/);
    await assertRunGone(before, ready!);
  } finally {
    await killHard(child);
  }
});

for (const signal of ['SIGINT'] as const) {
  test(`${signal} to a process running the harness removes its hosts, processes and data`, { skip }, async () => {
    const before = await snapshot();
    const { child, ready } = await startHolder('hold');
    try {
      await assertRunExisted(ready!);
      child.process.kill(signal);
      const exit = await child.exited;
      assert.equal(exit.code, signal === 'SIGINT' ? 130 : 143, `exit status after ${signal}: ${child.stderr()}`);
      await assertRunGone(before, ready!);
    } finally {
      await killHard(child);
    }
  });
}

test('what a run killed with SIGKILL leaves behind, the next run removes', { skip }, async () => {
  const before = await snapshot();
  const { child, ready } = await startHolder('hold');
  await killHard(child);
  const names = parseNamespaceList(await ip(['netns', 'list']));
  assert.ok(ready!.namespaces.every((ns) => names.includes(ns)), 'SIGKILL cannot be caught: the namespaces are still there');
  assert.ok(ready!.pids.some((p) => isAlive(p)), 'and its nodes still run');
  const removed = await removeDeadRuns();
  for (const item of [...ready!.namespaces, ready!.rootLink, path.basename(ready!.dir)]) assert.ok(removed.includes(item), `${item} removed as a dead run's leftover`);
  await assertRunGone(before, ready!);
});
