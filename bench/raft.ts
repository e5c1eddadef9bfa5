/**
 * Commits per second through a 3-member Raft group (RaftGroup, the driver the node will use)
 * over an in-process network (each batch of messages encoded and decoded with the real codec,
 * delivered on the next turn of the event loop), with 1, 16 and 256 proposals in flight:
 *   - on MemoryFileSystem (fsync free: the cost of the Raft code, storage framing and codec);
 *   - on NodeFileSystem in a temp dir (every acknowledged append fsynced, the leader and both
 *     followers sharing one disk).
 * Each proposal is a 100-byte command; a commit is counted when its promise resolves on the
 * leader, i.e. after a quorum persisted it and the leader applied it; latency is from propose to
 * that. The log is compacted every 1,000 entries: MemoryFileSystem's sync copies the whole file
 * (its crash model keeps a durable copy), which would otherwise grow without bound.
 * Not run by npm test.
 *
 *   node --import tsx bench/raft.ts [--proposals N] [--dir DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MemoryFileSystem, NodeFileSystem, seededRandom, type FileSystem } from '../engine/index.ts';
import { decodeMessages, encodeMessages, RaftGroup, type Message, type StateMachine } from '../cluster/raft/index.ts';

const { values } = parseArgs({ options: { proposals: { type: 'string', default: '20000' }, dir: { type: 'string' } } });
const total = Number(values.proposals);
const command = new Uint8Array(100).fill(7);

class CountingMachine implements StateMachine {
  applied = 0;
  apply(): unknown {
    return ++this.applied;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(8);
  }
  restore(): void {}
}

async function run(label: string, fileSystem: () => FileSystem, root: string, inFlight: number): Promise<void> {
  const ids = ['n1', 'n2', 'n3'];
  const groups = new Map<string, RaftGroup>();
  const send = (messages: Message[]) => {
    const byDestination = new Map<string, Message[]>();
    for (const m of messages) byDestination.set(m.to, [...(byDestination.get(m.to) ?? []), m]);
    for (const [to, batch] of byDestination) {
      const payload = encodeMessages(batch);
      setImmediate(() => groups.get(to)?.receive(decodeMessages(payload)));
    }
  };
  for (const [k, id] of ids.entries()) {
    groups.set(id, await RaftGroup.open({
      id, fileSystem: fileSystem(), dir: join(root, id), initialVoters: ids, stateMachine: new CountingMachine(),
      random: seededRandom(k + 1), send, limits: { snapshotEntries: 1000 },
    }));
  }
  const ticker = setInterval(() => { for (const g of groups.values()) g.tick(); }, 100);
  const leader = groups.get('n1')!;
  leader.campaign();
  while (leader.softState.role !== 'leader') await new Promise((resolve) => setTimeout(resolve, 5));
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < total) {
      const sent = performance.now();
      await leader.propose(command);
      latencies.push(performance.now() - sent);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2);
  clearInterval(ticker);
  for (const g of groups.values()) await g.close();
  console.log(`  ${label.padEnd(16)} ${String(inFlight).padStart(3)} in flight: ${(total / seconds).toFixed(0).padStart(8)} commits/s, latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`);
}

console.log(`raft: ${total} proposals of ${command.length} bytes through 3 members (node ${process.version})`);
for (const inFlight of [1, 16, 256]) await run('MemoryFileSystem', () => new MemoryFileSystem(), '/bench', inFlight);
for (const inFlight of [1, 16, 256]) {
  const root = mkdtempSync(join(values.dir ?? tmpdir(), 'distribkv-raft-bench-'));
  try {
    await run('NodeFileSystem', () => new NodeFileSystem(), root, inFlight);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
