/**
 * The CLI (bin/kv, the bundled build) against a real cluster of one shard (a leader and a
 * replica) and a controller-only node: writes with acks and sync, replica reads with min_seq,
 * batches, import and export, keyslot, a handover with transfer, and `kv status`, whose rows come
 * from each node and show a killed node as down with the reason (as `kv cluster` does).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { StatusRow } from '../../net/cli/status.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { runKv, type CommandResult } from '../helpers/run-command.ts';

const KV_WAIT_MS = 120_000;
const SETTLE_WAIT_MS = 60_000;

let cluster: TestCluster;
let dir: string;

function kv(args: string[], input?: string): Promise<CommandResult> {
  return runKv(['--cluster', [...cluster.controllers, ...cluster.shards.flatMap((s) => [s.leader, ...s.replicas])].join(','), ...args], { timeoutMs: KV_WAIT_MS, input });
}

function ok(result: CommandResult): CommandResult {
  assert.equal(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  return result;
}

/** Polls `kv status --json` until `check` holds for its rows (a bounded wait, never a sleep). */
async function statusUntil(what: string, check: (rows: StatusRow[]) => boolean): Promise<{ rows: StatusRow[]; result: CommandResult }> {
  const deadline = Date.now() + SETTLE_WAIT_MS;
  let last: CommandResult | undefined;
  while (Date.now() < deadline) {
    last = await kv(['status', '--json']);
    const rows = JSON.parse(last.stdout || '[]') as StatusRow[];
    if (check(rows)) return { rows, result: last };
    await delay(200);
  }
  throw new Error(`kv status did not show ${what} within ${SETTLE_WAIT_MS} ms; last:\n${last?.stdout}\n${last?.stderr}`);
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-cli-'));
  cluster = await startCluster({ shards: 1, replicas: 1, controllers: 1 });
});

after(async () => {
  await cluster?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the CLI against a real cluster', () => {
  it('writes with --acks all --sync, then reads the write from the replica with --replica --min-seq', async () => {
    const put = ok(await kv(['put', 'greeting', 'hello', '--acks', 'all', '--sync']));
    const seq = Number(/seq (\d+)/.exec(put.stderr)?.[1]);
    assert.ok(seq > 0, put.stderr);
    const get = ok(await kv(['get', 'greeting', '--replica', '--min-seq', String(seq)]));
    assert.equal(get.stdout, 'hello');
    ok(await kv(['put', 'piped'], 'from stdin'));
    assert.equal(ok(await kv(['get', 'piped'])).stdout, 'from stdin');
  });

  it('applies a batch file atomically', async () => {
    const file = path.join(dir, 'batch.json');
    await writeFile(file, JSON.stringify({ ops: [{ type: 'put', key: 'b1', value: 'one' }, { type: 'put', key: 'b2', value: 'two' }, { type: 'del', key: 'greeting' }] }));
    assert.match(ok(await kv(['batch', file])).stderr, /ok: 3 operations \(seq \d+\)/);
    assert.equal(ok(await kv(['get', 'b2'])).stdout, 'two');
    const gone = await kv(['get', 'greeting']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /not found: greeting/);
  });

  it('imports an NDJSON file and exports it back, bytes that are not UTF-8 included', async () => {
    const lines = Array.from({ length: 1200 }, (_, i) => JSON.stringify({ key: `import:${String(i).padStart(4, '0')}`, value: `v${i}` }));
    lines.push(JSON.stringify({ key_base64: Buffer.from([0x69, 0x6d, 0x70, 0x6f, 0x72, 0x74, 0x3a, 0xff]).toString('base64'), value_base64: Buffer.from([0xfe, 0, 1]).toString('base64') }));
    const file = path.join(dir, 'keys.ndjson');
    await writeFile(file, `${lines.join('\n')}\n`);
    assert.match(ok(await kv(['import', file, '--acks', 'all'])).stderr, /imported 1201 keys/);
    const exported = ok(await kv(['export', '--gte', 'import:', '--lt', 'import;']));
    assert.deepEqual(exported.stdout.trim().split('\n'), lines);
    assert.match(exported.stderr, /exported 1201 keys/);
  });

  it('names the shard, leader and replicas of a key with keyslot', async () => {
    const [shard] = cluster.shards;
    const out = ok(await kv(['keyslot', 'user:42'])).stdout;
    assert.match(out, new RegExp(`^shard ${shard!.name}\\nleader ${shard!.leader}\\nreplicas ${shard!.replicas[0]}\\nhash 0x[0-9a-f]{16}\\n$`));
  });

  it('hands the shard over to its replica with transfer, and status shows the new roles from each node', async () => {
    const [shard] = cluster.shards;
    const replica = shard!.replicas[0]!;
    assert.match(ok(await kv(['transfer', shard!.name, '--to', replica])).stderr, new RegExp(`${shard!.name}: ${replica} leads at term 2 \\(handed over by ${shard!.leader}`));
    await statusUntil('the handover', (rows) => rows.find((r) => r.address === replica)?.role === 'leader' && rows.find((r) => r.address === shard!.leader)?.role === 'replica');
  });

  it('shows every node in kv status, and a killed node as down with the reason', async () => {
    const [shard] = cluster.shards;
    const { rows, result } = await statusUntil('every node ready', (r) => r.length === 3 && r.every((x) => x.health === 'ready'));
    assert.equal(result.code, 0);
    assert.deepEqual(rows.map((r) => r.address).sort(), [shard!.leader, shard!.replicas[0]!, cluster.controllers[0]!].sort());
    assert.equal(rows.find((r) => r.address === cluster.controllers[0])?.controller, 'leader');
    assert.ok(rows.every((r) => r.uptimeMs !== null && r.uptimeMs > 0));
    const replicaNow = rows.find((r) => r.role === 'replica')!;
    await cluster.nodes.get(replicaNow.address)!.kill();

    const down = await statusUntil('the killed node as down', (r) => r.find((x) => x.address === replicaNow.address)?.health === 'down');
    assert.equal(down.result.code, 1, 'exit 1 while a node is down');
    assert.equal(down.rows.find((x) => x.address === replicaNow.address)?.why, 'refused');
    const table = await kv(['status']);
    assert.equal(table.code, 1);
    const line = table.stdout.split('\n').find((l) => l.startsWith(replicaNow.address));
    assert.match(line ?? '', /down \(refused\)$/, table.stdout);
    assert.match(table.stdout, /^NODE +SHARD +ROLE +CONTROL +TERM +LAST SEQ +LAG OPS +LAG MS +IN SYNC +KEYS~ +DISK +UP +HEALTH$/m);
    // kv cluster, the topology's view, also says why the node is down (not "fetch failed").
    const topology = ok(await kv(['cluster']));
    assert.match(topology.stdout, new RegExp(`${replicaNow.address.replace(/\./g, '\\.')} +\\d* *down \\(refused\\)$`, 'm'), topology.stdout);
  });
});
