/**
 * What a node persists and how it starts from it: the node state file round-trips and every
 * damaged byte is CORRUPTION (never "no file"); a data directory belongs to one node; and the
 * write gate lets anti-entropy read and write with no client write in between.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ClusterError, parseConfig } from '../../cluster/index.ts';
import { MemoryFileSystem, NodeFileSystem } from '../../engine/index.ts';
import { decodeNodeMeta, encodeNodeMeta, NODE_META_FILE, readNodeMeta, writeNodeMeta, type NodeMeta } from '../../cluster/replication/node-meta.ts';
import { openNodeStorage } from '../../cluster/replication/open-node.ts';
import { bootstrapCommand, metadataOfConfig } from '../../cluster/control/bootstrap.ts';
import { WriteGate } from '../../cluster/replication/write-gate.ts';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7101';
const C = '127.0.0.1:7201';
const config = parseConfig(`[[shards]]\nname = "s0"\nleader = "${A}"\nreplicas = ["${B}", "${C}"]\n[[shards]]\nname = "s1"\nleader = "127.0.0.1:7002"\n`, { source: 'test.toml' });
const META: NodeMeta = { address: A, shard: 's0', history: [{ term: 1, startSeq: 0 }], dataTerm: 1, installing: false, metadata: { ...metadataOfConfig(bootstrapCommand(config)), version: 1 } };

describe('the node state file', () => {
  it('round-trips, and is written whole where the node reads it', async () => {
    assert.deepEqual(decodeNodeMeta(encodeNodeMeta(META), 'test'), META);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-meta-'));
    try {
      const fs = new NodeFileSystem();
      assert.equal(readNodeMeta(fs, dir), undefined, 'no file yet: a node that never wrote one');
      await writeNodeMeta(fs, dir, META);
      await writeNodeMeta(fs, dir, { ...META, dataTerm: 2 });
      assert.equal(readNodeMeta(fs, dir)?.dataTerm, 2);
      const text = await readFile(path.join(dir, NODE_META_FILE), 'utf8');
      assert.match(text, /^\{"format":2,"crc32c":\d+,"state":\{"address":/);
      await writeFile(path.join(dir, NODE_META_FILE), text.replace('"dataTerm":2', '"dataTerm":3'));
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

describe('openNodeStorage', () => {
  it('writes a first node state naming the node, and refuses a data directory of another node in one line', async () => {
    const fs = new MemoryFileSystem();
    const first = await openNodeStorage(fs, '/n', A, {});
    assert.deepEqual(first.meta, { address: A, shard: null, history: [], dataTerm: 0, installing: false, metadata: null });
    await first.holder.close();
    await assert.rejects(openNodeStorage(fs, '/n', B, {}), (error: ClusterError) => error.code === 'CONFIG_INVALID' &&
      error.message === `data directory /n belongs to node ${A}, not ${B}; give each node its own --data`);
    const again = await openNodeStorage(fs, '/n', A, {});
    assert.equal(again.meta.address, A);
    await again.holder.close();
  });

  it('refuses a node state written before the control plane with a line that says what to do', () => {
    const old = '{"format":1,"crc32c":1,"state":{}}\n';
    assert.throws(() => decodeNodeMeta(old, 'node-state.json'), (error: ClusterError) => error.code === 'CONFIG_INVALID' && /format 1.*start this node on an empty data directory/.test(error.message));
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
