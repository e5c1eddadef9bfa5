/**
 * The receiving side of a migration's move (cluster/migration/receiver.ts) against a scripted
 * giver: streams cut short, a giver that can only start over from a snapshot, a receiver whose
 * leadership ended. The engine is a real one on a MemoryFileSystem, the metadata the real state
 * machine (cluster/control/metadata.ts); only the giver's stream and the shard's leadership are
 * stand-ins.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { applyCommand, EMPTY_METADATA, type Command, type Metadata } from '../../cluster/control/metadata.ts';
import { MigrationReceiver } from '../../cluster/migration/receiver.ts';
import type { Peers } from '../../cluster/peers.ts';
import type { LeaderReplication } from '../../cluster/replication/leader.ts';
import { WriteGate } from '../../cluster/replication/write-gate.ts';
import { Db, MemoryFileSystem } from '../../engine/index.ts';
import { ClusterError, encodeFrame, encodePreamble, moveFilter, type Frame } from '../../protocol/index.ts';

const VNODES = 16;
const WAIT_MS = 10_000;
const text = (b: Uint8Array) => Buffer.from(b).toString();
const bytes = (s: string) => Buffer.from(s);

/** A cluster of giver g (node g1) and receiver r (node r1) with migration `add r` under way. */
function addMigration(): Metadata {
  let m = EMPTY_METADATA;
  const commands: Command[] = [
    { type: 'bootstrap', vnodes: VNODES, shards: [{ name: 'g', members: ['g1'] }] },
    { type: 'register', node: 'r1' },
    { type: 'shard-add', shard: 'r', members: ['r1'] },
  ];
  for (const c of commands) {
    const result = applyCommand(m, c);
    assert.ok(result.ok, JSON.stringify(result));
    m = result.metadata;
  }
  return m;
}

/** `n` keys the move g → r carries. */
function movingKeys(n: number): string[] {
  const moving = moveFilter(['g'], ['g', 'r'], VNODES, 'g', 'r');
  const keys: string[] = [];
  for (let i = 0; keys.length < n; i++) if (moving(bytes(`k${i}`))) keys.push(`k${i}`);
  return keys;
}

/** A test double for what the receiver asks of its shard's leadership. */
function leadership(term: number) {
  const leader = { term, isStopped: false, readBarrier: async () => undefined };
  return leader as typeof leader & LeaderReplication;
}

/** One scripted answer of the giver: the frames of a stream asked `from`, then an end or a cut. */
type Script = (from: number) => { frames: Frame[]; cut?: boolean; before?: (index: number) => Promise<void> };

function harness(scripts: Script[]) {
  let metadata = addMigration();
  const asked: number[] = [];
  const peers = {
    async stream(_address: string, path: string) {
      const from = Number(new URL(`http://x${path}`).searchParams.get('from'));
      const script = scripts[Math.min(asked.length, scripts.length - 1)]!;
      asked.push(from);
      const { frames, cut, before } = script(from);
      return {
        status: 200,
        headers: {},
        close() {},
        chunks: (async function* () {
          yield encodePreamble();
          for (const [i, frame] of frames.entries()) {
            await before?.(i);
            yield encodeFrame(frame);
          }
          if (cut) throw new Error('the connection broke');
        })(),
      };
    },
  } as unknown as Peers;
  const propose = async (command: Command) => {
    const result = applyCommand(metadata, command);
    if (!result.ok) throw new ClusterError(result.code, result.message);
    metadata = result.metadata;
    return metadata;
  };
  let clock = 0;
  return {
    asked,
    metadata: () => metadata,
    propose,
    /** `view`: the metadata as this receiver's node sees it (default: the committed metadata; a node may lag behind it). */
    receiver: (db: Db, leader: LeaderReplication, view: () => Metadata = () => metadata) => new MigrationReceiver({
      address: 'r1', shard: 'r', db: () => db, leader, gate: new WriteGate(), peers, metadata: view, propose,
      frameBytesMax: 1 << 20, log: () => undefined, now: () => (clock += 1_000),
    }),
  };
}

async function waitUntil(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

async function contents(db: Db): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const [k, v] of db.iterator()) out[text(k)] = text(v);
  return out;
}

const put = (key: string, value: string): [number, Uint8Array, Uint8Array] => [1, bytes(key), bytes(value)];
const chunk = (pairs: [string, string][]): Frame => ({ type: 'snapshot-chunk', term: 1, entries: pairs.flatMap(([k, v]) => [bytes(k), bytes(v)]) });

describe('a migration receiver', () => {
  it('does not resume from its recorded progress after it started over from a snapshot and was cut short', async () => {
    const [k1, k2, k3, k4, k5] = movingKeys(5) as [string, string, string, string, string];
    // The giver's log of the moving keys: k1-k3 by seq 10, k4 at 15, k1 again at 25, k5 at 35.
    const at40: [string, string][] = [[k1, 'v1b'], [k2, 'v2'], [k3, 'v3'], [k4, 'v4'], [k5, 'v5']];
    const h = harness([
      // A snapshot at 10 and the log to 20; then the stream ends.
      () => ({ frames: [
        { type: 'hello', term: 1, leader: 'g1', plan: 'snapshot', from: 0, leaderSeq: 20, history: [] },
        { type: 'snapshot-begin', term: 1, seq: 10 },
        chunk([[k1, 'v1'], [k2, 'v2'], [k3, 'v3']]),
        { type: 'snapshot-end', term: 1, seq: 10, count: 3 },
        { type: 'moved', term: 1, through: 20, ops: [put(k4, 'v4')] },
      ] }),
      // A giver that no longer has the log from there starts over with a snapshot, and is cut off after one chunk.
      () => ({ cut: true, frames: [
        { type: 'hello', term: 1, leader: 'g1', plan: 'snapshot', from: 0, leaderSeq: 30, history: [] },
        { type: 'snapshot-begin', term: 1, seq: 30 },
        chunk([[k1, 'v1b']]),
      ] }),
      // Then a giver that has the log: from a point it streams the ops after it; from 0, a snapshot. Then fenced at 40.
      (from) => ({ frames: from > 0
        ? [
          { type: 'hello', term: 1, leader: 'g1', plan: 'stream', from, leaderSeq: 40, history: [] },
          { type: 'moved', term: 1, through: 40, ops: [...(from <= 15 ? [put(k4, 'v4')] : []), ...(from <= 25 ? [put(k1, 'v1b')] : []), put(k5, 'v5')] },
          { type: 'fenced', term: 1, seq: 40 },
        ]
        : [
          { type: 'hello', term: 1, leader: 'g1', plan: 'snapshot', from: 0, leaderSeq: 40, history: [] },
          { type: 'snapshot-begin', term: 1, seq: 40 },
          chunk(at40),
          { type: 'snapshot-end', term: 1, seq: 40, count: at40.length },
          { type: 'fenced', term: 1, seq: 40 },
        ] }),
    ]);
    const db = await Db.open('/db', { fileSystem: new MemoryFileSystem() });
    const receiver = h.receiver(db, leadership(1));
    receiver.update();
    try {
      await waitUntil('the move to reach cutover and done', () => h.metadata().migration?.moves[0]?.state === 'done');
    } finally {
      await receiver.stop();
    }
    assert.ok(h.asked[1]! > 0, `the second stream resumed from recorded progress (asked from ${h.asked.join(', ')})`);
    assert.equal(h.asked[2], 0, `after a snapshot cut short, the next stream starts over (asked from ${h.asked.join(', ')})`);
    assert.deepEqual(await contents(db), Object.fromEntries(at40), 'the receiver holds every moving key as the giver had it when fenced');
    await db.close();
  });

  it('voids the recorded progress in the metadata before it deletes its copies, even when its own view of the metadata is behind', async () => {
    // bugs-reshard #8: a receiver's leader restarted and acted on the metadata it had cached
    // (no progress recorded yet), so it deleted its copies to start over from a snapshot without
    // voiding the progress the metadata held; cut off, it left the next leadership to resume
    // from that progress, and the keys it had deleted were never copied again.
    const [k1, k2, k3, k4] = movingKeys(4) as [string, string, string, string];
    let restarted = false;
    const h = harness([
      // Asked from 0 (its view has no progress), the giver starts a snapshot; the stream breaks before any chunk, each time.
      // The next leadership asks from what the metadata holds: the ops after it, or a snapshot from 0.
      (from) => (!restarted ? { cut: true, frames: [{ type: 'hello', term: 1, leader: 'g1', plan: 'snapshot', from: 0, leaderSeq: 30, history: [] }] } : { frames: from > 0
        ? [
          { type: 'hello', term: 1, leader: 'g1', plan: 'stream', from, leaderSeq: 40, history: [] },
          { type: 'moved', term: 1, through: 40, ops: [put(k4, 'v4')] },
          { type: 'fenced', term: 1, seq: 40 },
        ]
        : [
          { type: 'hello', term: 1, leader: 'g1', plan: 'snapshot', from: 0, leaderSeq: 40, history: [] },
          { type: 'snapshot-begin', term: 1, seq: 40 },
          chunk([[k1, 'v1'], [k2, 'v2'], [k3, 'v3'], [k4, 'v4']]),
          { type: 'snapshot-end', term: 1, seq: 40, count: 4 },
          { type: 'fenced', term: 1, seq: 40 },
        ] }),
    ]);
    const cached = h.metadata();
    const db = await Db.open('/db', { fileSystem: new MemoryFileSystem() });
    // An earlier leadership copied k1-k3 (the giver's log up to 20) and recorded that progress.
    await db.batch([k1, k2, k3].map((k, i) => ({ type: 'put' as const, key: bytes(k), value: bytes(`v${i + 1}`) })));
    await h.propose({ type: 'move', id: cached.migration!.id, giver: 'g', receiver: 'r', step: 'progress', term: 1, through: 20 });
    const stale = h.receiver(db, leadership(1), () => cached);
    stale.update();
    try {
      await waitUntil('the first stream to be cut off', () => h.asked.length >= 2);
    } finally {
      await stale.stop();
    }
    restarted = true;
    const fresh = h.receiver(db, leadership(1));
    fresh.update();
    try {
      await waitUntil('the move to be done', () => h.metadata().migration?.moves[0]?.state === 'done');
    } finally {
      await fresh.stop();
    }
    assert.deepEqual(await contents(db), { [k1]: 'v1', [k2]: 'v2', [k3]: 'v3', [k4]: 'v4' }, `every moving key is held when the move is done (streams asked from ${h.asked.join(', ')})`);
    await db.close();
  });

  it('writes and proposes nothing once its leadership is over, even if the stream goes on', async () => {
    const [k1, k2] = movingKeys(2) as [string, string];
    const leader = leadership(1);
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    const h = harness([
      () => ({ frames: [
        { type: 'hello', term: 1, leader: 'g1', plan: 'snapshot', from: 0, leaderSeq: 10, history: [] },
        { type: 'snapshot-begin', term: 1, seq: 10 },
        chunk([[k1, 'v1']]),
        chunk([[k2, 'v2']]),
        { type: 'snapshot-end', term: 1, seq: 10, count: 2 },
      ], before: (i) => (i === 3 ? paused : Promise.resolve()) }),
    ]);
    const db = await Db.open('/db', { fileSystem: new MemoryFileSystem() });
    const receiver = h.receiver(db, leader);
    receiver.update();
    await waitUntil('the first chunk to be written', () => db.lastSequence > 0);
    const version = h.metadata().version;
    // A new term on this very node: the controller stops this leadership and makes a new receiver without stopping this one.
    leader.isStopped = true;
    resume();
    try {
      // Its loop ends only after the next chunk came in (the stream was paused before it).
      await waitUntil('the receiver loop to end', () => receiver.status().length === 0);
    } finally {
      await receiver.stop();
    }
    assert.deepEqual(await contents(db), { [k1]: 'v1' }, 'nothing written after the leadership ended');
    assert.equal(h.metadata().version, version, 'no step proposed after the leadership ended');
    await db.close();
  });
});
