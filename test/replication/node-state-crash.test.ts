/**
 * Crash states of a node's own state (node-state.json beside the engine): a replica runs a
 * snapshot install, takes its shard's leadership (the committed metadata names it leader at
 * term 2) and follows a new leader (the metadata names another), on a MemoryFileSystem that sees
 * every file-system call. Before each call that changes the disk, the crash states a power cut there
 * could leave are taken (only what was synced; everything; two random mixtures of torn tails
 * and lost directory entries). Each one is reopened the way a node starts (openNodeStorage,
 * then the follower machine's recovery of an interrupted install) and must be consistent:
 * - the state file reads (the old one or the new one, never torn);
 * - no install mark is left, and the engine holds exactly the old data, nothing, or the whole
 *   snapshot, with the data epoch that goes with it;
 * - a leadership taken or a leader followed happened entirely (the newer metadata cached, with
 *   the term's history entry and data term for a new leader) or not at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import type { CrashOptions } from '../../engine/fs/memory-file-system.ts';
import { MemoryNetwork } from '../../net/memory-transport.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { parseConfig, locateNode, type Frame, type Metadata } from '../../cluster/index.ts';
import { ReplicationController } from '../../cluster/replication/controller.ts';
import { bootstrapCommand, metadataOfConfig } from '../../cluster/control/bootstrap.ts';
import { applyCommand } from '../../cluster/control/metadata.ts';
import { DEFAULT_CONTROL } from '../../protocol/control-options.ts';
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
const C = '127.0.0.1:7201';
const CONFIG = parseConfig(`[[shards]]\nname = "s0"\nleader = "${A}"\nreplicas = ["${B}", "${C}"]\n`, { source: 'test.toml' });
/** The committed metadata at version 1: A leads s0 at term 1, everyone in sync. */
const V1: Metadata = { ...metadataOfConfig(bootstrapCommand(CONFIG)), version: 1 };
const elect = (leader: string): Metadata => {
  const result = applyCommand(V1, { type: 'elect', shard: 's0', leader, expectTerm: 1, inSync: [leader] });
  if (!result.ok) throw new Error(result.message);
  return result.metadata;
};
const ENGINE = { memtableBytes: 4096 };
const silent = () => undefined;
const key = (i: number) => `k${String(i).padStart(3, '0')}`;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

type Scenario = 'install' | 'lead' | 'follow';

/** A replica of s0 holding OLD_KEYS keys (seq 1..20) at term 1. */
async function replicaWithData(fs: MemoryFileSystem): Promise<{ holder: DbHolder; meta: NodeMeta }> {
  const opened = await openNodeStorage(fs, DIR, B, ENGINE);
  for (let i = 0; i < OLD_KEYS; i++) await opened.holder.db.put(key(i), `old-${i}`, { sync: true });
  // A replica's data is its leader's term's, as a hello with a stream plan would record.
  const meta: NodeMeta = { ...opened.meta, shard: 's0', dataTerm: 1, history: [{ term: 1, startSeq: 0 }], metadata: V1 };
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
    { applied: holder.db.lastSequence, dataTerm: meta.dataTerm, history: meta.history, leader: A, term: 1 },
  );
  const entries: Uint8Array[] = [];
  for (let i = 0; i < SNAPSHOT_KEYS; i++) entries.push(new TextEncoder().encode(key(i)), new TextEncoder().encode(`new-${i}`));
  const frames: Frame[] = [
    { type: 'hello', term: 1, leader: A, plan: 'snapshot', from: 0, leaderSeq: SNAPSHOT_SEQ, history: [{ term: 1, startSeq: 0 }] },
    { type: 'snapshot-begin', term: 1, seq: SNAPSHOT_SEQ },
    { type: 'snapshot-chunk', term: 1, entries: entries.slice(0, 20) },
    { type: 'snapshot-chunk', term: 1, entries: entries.slice(20) },
    { type: 'snapshot-end', term: 1, seq: SNAPSHOT_SEQ, count: SNAPSHOT_KEYS },
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

/** A controller over the engine, on a network where no other node answers, with a control plane that grants nothing. */
function controller(fs: MemoryFileSystem, holder: DbHolder, meta: NodeMeta): ReplicationController {
  const net = new MemoryNetwork({ random: seededRandom(1) });
  const refuse = () => Promise.reject(new Error('no control plane in this test'));
  return new ReplicationController({
    address: B, dataDir: DIR, fileSystem: fs, holder, meta, initial: V1, options: { ...DEFAULT_REPLICATION, heartbeatIntervalMs: 1000 }, control: DEFAULT_CONTROL,
    frameBytesMax: 1 << 20, batchOpsMax: 1000, peers: new Peers(net.transport(B), undefined), log: silent,
    client: { metadata: V1, propose: refuse, lease: refuse, refresh: () => undefined },
  });
}

async function run(scenario: Scenario, fs: MemoryFileSystem, holder: DbHolder, meta: NodeMeta): Promise<void> {
  if (scenario === 'install') return install(fs, holder, meta);
  const node = controller(fs, holder, meta);
  try {
    await node.start();
    await node.onMetadata(elect(scenario === 'lead' ? B : C));
    assert.equal(node.nodeState.role, scenario === 'lead' ? 'leader' : 'replica');
    assert.equal(node.nodeState.shard?.term, 2);
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
  const { holder, meta } = await openNodeStorage(fs, DIR, B, ENGINE);
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
      assert.equal(after.dataTerm, 1, `${where}: a completed install records the leader's term`);
    }
    if (outcome === 'empty') {
      assert.equal(scenario, 'install', `${where}: an empty engine after a ${scenario}`);
      assert.equal(after.dataTerm, 0, `${where}: an empty engine holds no term's data`);
    }
    const term = after.metadata ? locateNode(after.metadata, B)!.shard.term : 0;
    if (scenario === 'install') assert.equal(term, 1, `${where}: an install changed the cached metadata`);
    else if (term === 2) {
      const leads = locateNode(after.metadata!, B)!.leads;
      assert.equal(leads, scenario === 'lead', `${where}: the newer metadata gives the wrong role`);
      if (scenario === 'lead') {
        assert.deepEqual(after.history.at(-1), { term: 2, startSeq: 20 }, `${where}: the leadership came without its history entry`);
        assert.equal(after.dataTerm, 2, `${where}: a new leader's data is its term's`);
      }
    } else {
      assert.equal(term, 1, `${where}: cached term ${term}`);
      assert.equal(after.history.length, 1, `${where}: a history entry without its metadata`);
      assert.equal(after.dataTerm, 1, `${where}: a data term without its metadata`);
    }
    return `${outcome}, term ${term}`;
  } finally {
    await holder.close();
  }
}

describe('node state through crashes', () => {
  for (const scenario of ['install', 'lead', 'follow'] as const) {
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
