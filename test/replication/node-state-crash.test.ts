/**
 * Crash states of a node's own state (node-state.json beside the engine): a replica runs a
 * snapshot install, a promotion and a topology adoption on a MemoryFileSystem that sees every
 * file-system call. Before each call that changes the disk, the crash states a power cut there
 * could leave are taken (only what was synced; everything; two random mixtures of torn tails
 * and lost directory entries). Each one is reopened the way a node starts (openNodeStorage,
 * then the follower machine's recovery of an interrupted install) and must be consistent:
 * - the state file reads (the old one or the new one, never torn);
 * - no install mark is left, and the engine holds exactly the old data, nothing, or the whole
 *   snapshot, with the data epoch that goes with it;
 * - a promotion or an adoption happened entirely (newer topology with its history) or not at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import type { CrashOptions } from '../../engine/fs/memory-file-system.ts';
import { MemoryNetwork } from '../../net/memory-transport.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { parseConfig, Topology, type Frame } from '../../cluster/index.ts';
import { ReplicationController } from '../../cluster/replication/controller.ts';
import { executeWork } from '../../cluster/replication/follower.ts';
import { FollowerMachine, type MetaChange } from '../../cluster/replication/follower-machine.ts';
import { readNodeMeta, writeNodeMeta, type NodeMeta } from '../../cluster/replication/node-meta.ts';
import { openNodeStorage } from '../../cluster/replication/open-node.ts';
import type { DbHolder } from '../../cluster/replication/db-holder.ts';
import { DEFAULT_REPLICATION } from '../../protocol/replication-options.ts';
import { Peers } from '../../cluster/peers.ts';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7101';
const DIR = '/node';
const OLD_KEYS = 20;
const SNAPSHOT_SEQ = 50;
const SNAPSHOT_KEYS = 30;
const MUTATING = new Set(['create', 'append', 'sync', 'rename', 'remove', 'syncDir', 'mkdir']);
const VARIANTS: CrashOptions[] = [
  { data: 'drop', entries: 'durable' },
  { data: 'keep', entries: 'keep' },
  { data: 'random', entries: 'random' },
  { data: 'random', entries: 'random' },
];
const CONFIG = Topology.fromConfig(parseConfig(`[cluster]\nepoch = 1\n[[shards]]\nname = "s0"\nleader = "${A}"\nreplicas = ["${B}"]\n`, { source: 'test.toml' }));
const ENGINE = { memtableBytes: 4096 };
const silent = () => undefined;
const key = (i: number) => `k${String(i).padStart(3, '0')}`;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

type Scenario = 'install' | 'promote' | 'adopt';

/** A replica of s0 holding OLD_KEYS keys (seq 1..20) at epoch 1. */
async function replicaWithData(fs: MemoryFileSystem): Promise<{ holder: DbHolder; meta: NodeMeta }> {
  const opened = await openNodeStorage(fs, DIR, CONFIG, B, ENGINE);
  for (let i = 0; i < OLD_KEYS; i++) await opened.holder.db.put(key(i), `old-${i}`, { sync: true });
  // A replica's data is its leader's epoch's, as a hello with a stream plan would record.
  const meta = { ...opened.meta, dataEpoch: 1, history: [{ epoch: 1, startSeq: 0 }] };
  await writeNodeMeta(fs, DIR, meta);
  return { holder: opened.holder, meta };
}

/** The snapshot install a follower makes, driven by the machine and done by the shell's executeWork. */
async function install(fs: MemoryFileSystem, holder: DbHolder, meta: NodeMeta): Promise<void> {
  let current = meta;
  const saveMeta = async (change: MetaChange) => {
    current = { ...current, ...change };
    await writeNodeMeta(fs, DIR, current);
  };
  const machine = new FollowerMachine(
    { address: B, heartbeatIntervalMs: 100, retentionBytesMax: 1 << 20, retentionBatchesMax: 100, followerSync: false, batchesPerRunMax: 16, checkpointKeepMs: 1000, retryDelayMaxMs: 100 },
    { applied: holder.db.lastSequence, dataEpoch: meta.dataEpoch, history: meta.history, leader: A, epoch: 1 },
  );
  const entries: Uint8Array[] = [];
  for (let i = 0; i < SNAPSHOT_KEYS; i++) entries.push(new TextEncoder().encode(key(i)), new TextEncoder().encode(`new-${i}`));
  const frames: Frame[] = [
    { type: 'hello', epoch: 1, leader: A, plan: 'snapshot', from: 0, leaderSeq: SNAPSHOT_SEQ, history: [{ epoch: 1, startSeq: 0 }] },
    { type: 'snapshot-begin', epoch: 1, seq: SNAPSHOT_SEQ },
    { type: 'snapshot-chunk', epoch: 1, entries: entries.slice(0, 20) },
    { type: 'snapshot-chunk', epoch: 1, entries: entries.slice(20) },
    { type: 'snapshot-end', epoch: 1, seq: SNAPSHOT_SEQ, count: SNAPSHOT_KEYS },
  ];
  machine.step({ type: 'tick' }, 0);
  machine.step({ type: 'connected' }, 1);
  machine.step({ type: 'frames', frames }, 2);
  const work = [...machine.ready().work];
  machine.advance();
  while (work.length > 0) {
    const item = work.shift()!;
    await executeWork(item, holder, saveMeta);
    machine.step({ type: 'done', work: item.id }, 3);
    work.push(...machine.ready().work);
    machine.advance();
  }
  assert.equal(machine.isInstalling, false, 'the install finished');
}

/** A controller over the engine, on a network where no other node answers. */
function controller(fs: MemoryFileSystem, holder: DbHolder, meta: NodeMeta): ReplicationController {
  const net = new MemoryNetwork({ random: seededRandom(1) });
  return new ReplicationController({
    address: B, dataDir: DIR, fileSystem: fs, holder, meta, options: { ...DEFAULT_REPLICATION, heartbeatIntervalMs: 1000 },
    frameBytesMax: 1 << 20, batchOpsMax: 1000, peers: new Peers(net.transport(B), undefined), log: silent,
  });
}

async function run(scenario: Scenario, fs: MemoryFileSystem, holder: DbHolder, meta: NodeMeta): Promise<void> {
  if (scenario === 'install') return install(fs, holder, meta);
  const node = controller(fs, holder, meta);
  try {
    if (scenario === 'promote') {
      const report = await node.promote(false);
      assert.equal(report.epoch, 2);
    } else {
      const next = CONFIG.withLeader('s0', B, 2).toJson();
      // Another node was promoted meanwhile: this one stays a replica of the new leader.
      const adopted = Topology.fromJson({ ...next, shards: [{ name: 's0', leader: '127.0.0.1:7201', replicas: [B, A] }] });
      assert.equal(await node.adopt({ topology: adopted.toJson(), history: [{ epoch: 1, startSeq: 0 }, { epoch: 2, startSeq: 20 }] }, 'test'), true);
    }
  } finally {
    await node.stop();
  }
}

async function entries(db: Db): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of db.iterator()) out.set(text(k), text(v));
  return out;
}

/** Opens a crash state as a node would start, and checks it is one of the allowed states. */
async function check(scenario: Scenario, fs: MemoryFileSystem, where: string): Promise<string> {
  const { holder, meta } = await openNodeStorage(fs, DIR, CONFIG, B, ENGINE);
  try {
    assert.equal(meta.installing, false, `${where}: the node opened with its install mark set`);
    const after = readNodeMeta(fs, DIR)!;
    assert.equal(after.installing, false, `${where}: the install mark survived start-up`);
    const data = await entries(holder.db);
    const seq = holder.db.lastSequence;
    const old = data.size === OLD_KEYS && [...data.values()].every((v) => v.startsWith('old-')) && seq === OLD_KEYS;
    const outcome = old ? 'old data' : seq === 0 && data.size === 0 ? 'empty' : 'snapshot';
    if (outcome === 'snapshot') {
      assert.equal(scenario, 'install', `${where}: data other than the old data after a ${scenario}`);
      assert.equal(seq, SNAPSHOT_SEQ, `${where}: partial snapshot data (seq ${seq}, ${data.size} keys) without an install mark`);
      assert.equal(data.size, SNAPSHOT_KEYS, `${where}: the snapshot is incomplete`);
      assert.ok([...data.values()].every((v) => v.startsWith('new-')), `${where}: old and new data mixed`);
      assert.equal(after.dataEpoch, 1, `${where}: a completed install records the leader's epoch`);
    }
    if (outcome === 'empty') {
      assert.equal(scenario, 'install', `${where}: an empty engine after a ${scenario}`);
      assert.equal(after.dataEpoch, 0, `${where}: an empty engine holds no epoch's data`);
    }
    const epoch = Topology.fromJson(after.topology).epoch;
    if (scenario === 'install') assert.equal(epoch, 1, `${where}: an install changed the topology`);
    else if (epoch === 2) {
      const locate = Topology.fromJson(after.topology).locate(B)!;
      assert.equal(locate.role, scenario === 'promote' ? 'leader' : 'replica', `${where}: the newer topology gives the wrong role`);
      assert.deepEqual(after.history.at(-1), { epoch: 2, startSeq: 20 }, `${where}: the newer topology came without its history entry`);
      if (scenario === 'promote') assert.equal(after.dataEpoch, 2, `${where}: a promoted node's data is the new epoch's`);
    } else {
      assert.equal(epoch, 1, `${where}: topology epoch ${epoch}`);
      assert.equal(after.history.length, 1, `${where}: a history entry without its topology`);
    }
    return `${outcome}, epoch ${epoch}`;
  } finally {
    await holder.close();
  }
}

describe('node state through crashes', () => {
  for (const scenario of ['install', 'promote', 'adopt'] as const) {
    it(`every crash state of a ${scenario} reopens consistently`, async (t) => {
      const fs = new MemoryFileSystem();
      const { holder, meta } = await replicaWithData(fs);
      const states: { fs: MemoryFileSystem; at: string }[] = [];
      let calls = 0;
      fs.fault = (op, path) => {
        calls++;
        if (MUTATING.has(op)) VARIANTS.forEach((variant, i) => states.push({ fs: fs.crash(calls * 4 + i, variant), at: `crash before call ${calls} (${op} ${path})` }));
        return undefined;
      };
      await run(scenario, fs, holder, meta);
      fs.fault = undefined;
      await holder.close();
      states.push({ fs: fs.crash(0, { data: 'drop', entries: 'durable' }), at: 'crash after the last call' });
      const outcomes = new Map<string, number>();
      for (const state of states) {
        const outcome = await check(scenario, state.fs, state.at);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      t.diagnostic(`${scenario}: ${states.length} crash states explored over ${calls} file-system calls; outcomes: ${[...outcomes].map(([o, n]) => `${o} ×${n}`).join(', ')}`);
      // The explorer reached both sides of the change, or it proves nothing.
      assert.ok(outcomes.size >= 2, `only one outcome seen: ${[...outcomes.keys()].join(', ')}`);
    });
  }
});
