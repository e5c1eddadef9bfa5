/**
 * A partition test on real node processes: a TCP proxy on loopback sits between the leader
 * and its followers (the leader's configured address is the proxy's; the leader binds another
 * loopback address), so the test can delay, cut and partition the replication links while
 * clients still reach the leader directly. Under an acks=all write load:
 *   1. the links are delayed, then cut (a blip), then partitioned;
 *   2. during the partition the most up-to-date replica is promoted (epoch 2), and the load
 *      writes to both the new leader and the isolated old one;
 *   3. the partition heals and the old leader learns it was deposed.
 * Checked with the history checker: no acknowledged write is lost, and in each epoch at most
 * one node acknowledged writes.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { findLostWrites, History } from '../checker/index.ts';
import { NodeProcess } from '../helpers/cluster-harness.ts';
import { freePorts } from '../helpers/free-ports.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { nodeView, promote, scanAll, waitCaughtUp, waitFor, waitInSync, waitLeaderGone } from '../replication/nodes.ts';

const REPLICATION = ['min_insync = 1', 'replica_lag_max_ms = 1000', 'heartbeat_interval_ms = 100'].join('\n');
const WORKERS = 6;
const WRITES_MAX = 30_000;
const LOAD_MS_MAX = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** Errors that prove a write was not made. */
const NOT_APPLIED = new Set(['NOT_ENOUGH_REPLICAS', 'OVERLOADED', 'SHUTTING_DOWN', 'NOT_LEADER_REFUSED']);

interface Ack {
  node: string;
  epoch: number;
}

/** One PUT with acks=all; never follows a redirect (a 307 means "not written here"). */
function put(address: string, key: string, value: string): Promise<{ status: number; code?: string; epoch: number }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method: 'PUT', path: `/kv/${encodeURIComponent(key)}?acks=all`, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString()) as { code?: string }).code : undefined;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, code, epoch: Number(res.headers['x-epoch'] ?? 0) });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(value);
  });
}

let dir = '';
let proxy: TcpProxy | undefined;
const nodes: NodeProcess[] = [];
let leaderConfigured = '';
let leaderReal = '';
let replicas: string[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-partition-'));
  const [leaderPort, r1, r2] = await freePorts(3);
  leaderConfigured = `127.0.0.2:${leaderPort}`;
  leaderReal = `127.0.0.3:${leaderPort}`;
  replicas = [`127.0.0.1:${r1}`, `127.0.0.1:${r2}`];
  const config = path.join(dir, 'cluster.toml');
  await writeFile(config, ['[cluster]', 'vnodes = 64', '', '[replication]', REPLICATION, '', '[[shards]]', 'name = "shard-0"', `leader = "${leaderConfigured}"`, `replicas = ["${replicas[0]}", "${replicas[1]}"]`, ''].join('\n'));
  proxy = await TcpProxy.start({ host: '127.0.0.2', port: leaderPort! }, { host: '127.0.0.3', port: leaderPort! });
  nodes.push(NodeProcess.spawn(config, leaderConfigured, path.join(dir, 'leader'), {}, ['--bind', '127.0.0.3']));
  for (const r of replicas) nodes.push(NodeProcess.spawn(config, r, path.join(dir, r.replace(':', '_'))));
  await Promise.all(nodes.map((n) => n.waitHealthy()));
  await waitInSync(leaderReal, 2);
});

after(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  await proxy?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('under delay, cuts and a partition with a promotion, no acknowledged write is lost and each epoch has one acknowledging node', async (t) => {
  const history = new History();
  const acks: Ack[] = [];
  const targets: string[] = Array.from({ length: WORKERS }, () => leaderReal);
  const deadline = Date.now() + LOAD_MS_MAX;
  let started = 0;
  let stopped = false;
  const worker = async (id: number) => {
    for (let i = 0; !stopped && started < WRITES_MAX && Date.now() < deadline; i++) {
      started++;
      const node = targets[id]!;
      const key = `p-w${id}-${String(i).padStart(6, '0')}`;
      const op = history.invoke(id, { type: 'write', key, value: key });
      try {
        const res = await put(node, key, key);
        if (res.status === 204) {
          history.ok(op);
          acks.push({ node, epoch: res.epoch });
        } else if (res.status === 307 || res.status < 500 || NOT_APPLIED.has(res.code ?? '')) {
          history.fail(op, res.code ?? String(res.status));
        } else {
          history.info(op, res.code ?? String(res.status));
        }
      } catch (error) {
        history.info(op, (error as Error).message);
      }
    }
  };
  const load = Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id)));
  const ackedBy = (node: string) => acks.filter((a) => a.node === node).length;
  const waitAcks = (what: string, node: string, more: number) => {
    const target = ackedBy(node) + more;
    return waitFor(what, () => ackedBy(node) >= target, 20_000);
  };
  try {
    await waitAcks('writes acknowledged before any fault', leaderReal, 200);
    proxy!.delay(20);
    await waitAcks('writes acknowledged over a delayed link', leaderReal, 100);
    proxy!.heal();
    proxy!.cut();
    await waitAcks('writes acknowledged after a cut', leaderReal, 100);

    proxy!.partition();
    const ackedBeforePartition = ackedBy(leaderReal);
    await waitLeaderGone(replicas);
    const positions = await Promise.all(replicas.map(async (r) => (await nodeView(r)).lastSequence));
    const newLeader = replicas[positions.indexOf(Math.max(...positions))]!;
    const report = await promote(newLeader);
    assert.equal(report.epoch, 2);
    // Half the load follows the new leader; half keeps writing to the isolated old one.
    for (let id = 0; id < WORKERS; id += 2) targets[id] = newLeader;
    await waitInSync(newLeader, 1);
    await waitAcks('writes acknowledged by the new leader', newLeader, 200);
    const ackedByOldInPartition = ackedBy(leaderReal) - ackedBeforePartition;

    proxy!.heal();
    await waitFor('the old leader to learn it was deposed', async () => (await nodeView(leaderReal)).role === 'replica');
    for (let id = 0; id < WORKERS; id++) targets[id] = newLeader;
    await waitAcks('writes acknowledged after healing', newLeader, 100);
    stopped = true;
    await load;

    await waitCaughtUp(leaderReal, newLeader);
    const finalData = await scanAll(newLeader);
    const lost = findLostWrites(history.events, finalData);
    const byEpoch = new Map<number, Set<string>>();
    for (const a of acks) byEpoch.set(a.epoch, (byEpoch.get(a.epoch) ?? new Set()).add(a.node));
    t.diagnostic(
      `${acks.length} writes acknowledged (${ackedBy(leaderReal)} by the first leader, ${ackedByOldInPartition} of them during the partition; ${ackedBy(newLeader)} by the new one); ` +
        `acknowledging nodes per epoch: ${JSON.stringify([...byEpoch].map(([e, s]) => [e, [...s]]))}; lost ${lost.length}; proxy forwarded ${proxy!.bytesForwarded} bytes over ${proxy!.connections} connections`,
    );
    assert.deepEqual(lost, [], 'acknowledged writes were lost');
    for (const [epoch, set] of byEpoch) assert.equal(set.size, 1, `epoch ${epoch} had ${set.size} acknowledging nodes: ${[...set].join(', ')}`);
    assert.deepEqual(await scanAll(leaderReal), finalData, 'the old leader, rejoined, holds the new leader\'s data');
  } finally {
    stopped = true;
    proxy?.heal();
    await load;
  }
});
