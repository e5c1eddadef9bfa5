/**
 * What a node persists and how it starts from it: the node state file round-trips and every
 * damaged byte is CORRUPTION (never "no file"); the config or the persisted topology wins by
 * epoch (replication/reconcile.ts); a promotion's topology moves the leader and nothing else;
 * and the write gate lets anti-entropy read and write with no client write in between.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ClusterError, parseConfig, Topology } from '../../cluster/index.ts';
import { NodeFileSystem } from '../../engine/index.ts';
import { decodeNodeMeta, encodeNodeMeta, NODE_META_FILE, readNodeMeta, writeNodeMeta, type NodeMeta } from '../../cluster/replication/node-meta.ts';
import { reconcileMeta } from '../../cluster/replication/reconcile.ts';
import { WriteGate } from '../../cluster/replication/write-gate.ts';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7101';
const C = '127.0.0.1:7201';
const topology = (epoch: number) => Topology.fromConfig(parseConfig(
  `[cluster]\nepoch = ${epoch}\n[[shards]]\nname = "s0"\nleader = "${A}"\nreplicas = ["${B}", "${C}"]\n[[shards]]\nname = "s1"\nleader = "127.0.0.1:7002"\n`,
  { source: 'test.toml' },
));
const META: NodeMeta = { topology: topology(1).toJson(), history: [{ epoch: 1, startSeq: 0 }], dataEpoch: 1, installing: false };

describe('the node state file', () => {
  it('round-trips, and is written whole where the node reads it', async () => {
    assert.deepEqual(decodeNodeMeta(encodeNodeMeta(META), 'test'), META);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-meta-'));
    try {
      const fs = new NodeFileSystem();
      assert.equal(readNodeMeta(fs, dir), undefined, 'no file yet: a node that never wrote one');
      await writeNodeMeta(fs, dir, META);
      await writeNodeMeta(fs, dir, { ...META, dataEpoch: 2 });
      assert.equal(readNodeMeta(fs, dir)?.dataEpoch, 2);
      const text = await readFile(path.join(dir, NODE_META_FILE), 'utf8');
      assert.match(text, /^\{"format":1,"crc32c":\d+,"state":\{"topology":/);
      await writeFile(path.join(dir, NODE_META_FILE), text.replace('"dataEpoch":2', '"dataEpoch":3'));
      assert.throws(() => readNodeMeta(fs, dir), (error: ClusterError) => error.code === 'CORRUPTION' && /checksum/.test(error.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports every flipped byte and every truncation as corruption', () => {
    const text = encodeNodeMeta(META);
    for (let i = 0; i < text.length; i++) {
      const flipped = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ 0x01) + text.slice(i + 1);
      // Flipping the trailing newline's low bit gives a character the format does not allow either.
      assert.throws(() => decodeNodeMeta(flipped, 'test'), (error: ClusterError) => error.code === 'CORRUPTION', `byte ${i}`);
    }
    for (let n = 0; n < text.length - 1; n++) {
      assert.throws(() => decodeNodeMeta(text.slice(0, n), 'test'), (error: ClusterError) => error.code === 'CORRUPTION', `first ${n} bytes`);
    }
  });
});

describe('reconcileMeta', () => {
  it('starts a new leader\'s history at the config\'s epoch, and a new replica with none', () => {
    assert.deepEqual(reconcileMeta(topology(1), undefined, A, 0), META);
    assert.deepEqual(reconcileMeta(topology(1), undefined, B, 0), { ...META, history: [], dataEpoch: 0 });
  });

  it('keeps a persisted topology at least as new as the config\'s', () => {
    const promoted: NodeMeta = { ...META, topology: topology(1).withLeader('s0', B, 2).toJson(), history: [...META.history, { epoch: 2, startSeq: 90 }] };
    assert.equal(reconcileMeta(topology(1), promoted, A, 120), promoted);
    assert.equal(reconcileMeta(topology(2), promoted, A, 120), promoted, 'equal epochs: the persisted one stands');
  });

  it('takes a newer config, and records the epoch when it names this node leader by hand', () => {
    const promoted: NodeMeta = { ...META, topology: topology(1).withLeader('s0', B, 2).toJson(), history: [...META.history, { epoch: 2, startSeq: 90 }], dataEpoch: 2 };
    const back = reconcileMeta(topology(5), promoted, A, 120);
    assert.deepEqual(back.topology, topology(5).toJson());
    assert.deepEqual(back.history, [...promoted.history, { epoch: 5, startSeq: 120 }]);
    assert.equal(back.dataEpoch, 5);
    const replica = reconcileMeta(topology(5), { ...promoted, topology: topology(1).toJson() }, C, 80);
    assert.deepEqual(replica.history, promoted.history, 'a replica keeps the history it knows');
  });
});

describe('Topology.withLeader', () => {
  it('makes a replica the leader and the old leader its first replica, under the new epoch', () => {
    const before = topology(1);
    const after = before.withLeader('s0', C, 2);
    assert.deepEqual(after.toJson().shards[0], { name: 's0', leader: C, replicas: [A, B] });
    assert.deepEqual(after.toJson().shards[1], before.toJson().shards[1]);
    assert.equal(after.epoch, 2);
    for (const key of ['a', 'b', 'user:42', 'zzz']) {
      const bytes = new TextEncoder().encode(key);
      assert.equal(after.shardOf(bytes).name, before.shardOf(bytes).name, 'no key moves');
    }
    assert.throws(() => before.withLeader('s0', A, 2), /cannot make/);
    assert.throws(() => before.withLeader('s0', B, 1), /cannot make/);
  });
});

describe('WriteGate', () => {
  it('runs an exclusive section after the writes already in progress and before the ones that arrive', async () => {
    const gate = new WriteGate();
    const events: string[] = [];
    let finishFirst!: () => void;
    const first = gate.write(() => new Promise<void>((resolve) => (finishFirst = resolve)).then(() => events.push('first write done')));
    const section = gate.exclusive(async () => {
      events.push('section');
    });
    const second = gate.write(async () => events.push('second write'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, [], 'the section waits for the write in progress, and the new write waits for the section');
    finishFirst();
    await Promise.all([first, section, second]);
    assert.deepEqual(events, ['first write done', 'section', 'second write']);
  });

  it('once shut, refuses new writes and says when the ones in progress are done', async () => {
    const gate = new WriteGate();
    let finish!: () => void;
    const inProgress = gate.write(() => new Promise<void>((resolve) => (finish = resolve)));
    gate.shut(() => new Error('not the leader'));
    await assert.rejects(gate.write(async () => 'late'), /not the leader/);
    let settled = false;
    const done = gate.settled().then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false);
    finish();
    await Promise.all([inProgress, done]);
    gate.open();
    assert.equal(await gate.write(async () => 'again'), 'again');
  });
});
