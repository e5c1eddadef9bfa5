/**
 * RaftStorage: what is saved reopens; truncation and compaction; a torn tail is dropped and
 * damage before it is CORRUPTION; and crash-state exploration: before every file-system call
 * that changes the disk, while appending, truncating, compacting and installing snapshots,
 * the crash states a power cut could leave must reopen into a state the workload passed
 * through since its last fsync (RAFT_CRASH_OPS sets the workload size).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryFileSystem, seededRandom, type CrashOptions } from '../../engine/index.ts';
import { EntryType, RaftStorage, type Entry, type HardState, type Snapshot } from '../../cluster/raft/index.ts';

const DIR = '/raft';
const encoder = new TextEncoder();
const entry = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: encoder.encode(data) });
const snapshotAt = (index: number, term: number): Snapshot => ({ index, term, voters: ['n1', 'n2', 'n3'], data: encoder.encode(`state@${index}`) });

/** A state as text, for comparisons and messages. */
function describe(s: { hardState: HardState; snapshot: Snapshot; entries: readonly Entry[] }): string {
  const entries = s.entries.map((e) => `${e.index}/${e.term}:${new TextDecoder().decode(e.data)}`).join(',');
  return `hard=${s.hardState.term}/${s.hardState.vote}/${s.hardState.commit} snap=${s.snapshot.index}/${s.snapshot.term}[${s.snapshot.voters.join(',')}] log=[${entries}]`;
}

test('saved entries, hard state and snapshots reopen as they were', async () => {
  const fs = new MemoryFileSystem();
  const storage = await RaftStorage.open(fs, DIR);
  assert.equal(storage.fresh, true);
  await storage.bootstrap(['n1', 'n2', 'n3']);
  await storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 'n1', commit: 1 }, mustSync: true });
  await storage.save({ entries: [entry(3, 2)], hardState: { term: 2, vote: 'n2', commit: 2 }, mustSync: true });
  const before = describe(storage.initialState());
  storage.close();
  const reopened = await RaftStorage.open(fs, DIR);
  assert.equal(describe(reopened.initialState()), before);
  assert.equal(before, 'hard=2/n2/2 snap=0/0[n1,n2,n3] log=[1/1:e1,2/1:e2,3/2:e3]');
  assert.equal(reopened.fresh, false);
});

test('entries that start at or below the last index replace the suffix (a follower truncating its log)', async () => {
  const fs = new MemoryFileSystem();
  const storage = await RaftStorage.open(fs, DIR);
  await storage.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: '', commit: 1 }, mustSync: true });
  await storage.save({ entries: [entry(2, 2, 'x'), entry(3, 2, 'y'), entry(4, 2, 'z')], hardState: { term: 2, vote: '', commit: 1 }, mustSync: true });
  storage.close();
  assert.equal(describe((await RaftStorage.open(fs, DIR)).initialState()), 'hard=2//1 snap=0/0[] log=[1/1:e1,2/2:x,3/2:y,4/2:z]');
});

test('compaction drops the entries a snapshot covers, and installing a leader snapshot drops the whole log', async () => {
  const fs = new MemoryFileSystem();
  const storage = await RaftStorage.open(fs, DIR);
  await storage.save({ entries: [1, 2, 3, 4].map((i) => entry(i, 1)), hardState: { term: 1, vote: 'n1', commit: 4 }, mustSync: true });
  await storage.compact(snapshotAt(3, 1));
  storage.close();
  const compacted = await RaftStorage.open(fs, DIR);
  assert.equal(describe(compacted.initialState()), 'hard=1/n1/4 snap=3/1[n1,n2,n3] log=[4/1:e4]');
  await compacted.save({ snapshot: snapshotAt(9, 2), entries: [entry(10, 2)], hardState: { term: 2, vote: '', commit: 9 }, mustSync: true });
  compacted.close();
  const installed = await RaftStorage.open(fs, DIR);
  assert.equal(describe(installed.initialState()), 'hard=2//9 snap=9/2[n1,n2,n3] log=[10/2:e10]');
  assert.equal(new TextDecoder().decode(installed.snapshot.data), 'state@9');
  // Only the newest generation and its snapshot remain.
  assert.deepEqual(fs.list(DIR).length, 2);
});

test('a torn tail is dropped: an unfinished record was never acknowledged', async () => {
  const fs = new MemoryFileSystem();
  const storage = await RaftStorage.open(fs, DIR);
  await storage.save({ entries: [entry(1, 1)], hardState: { term: 1, vote: '', commit: 0 }, mustSync: true });
  await storage.save({ entries: [entry(2, 1, 'a longer entry that will be cut short')], mustSync: true });
  storage.close();
  const log = fs.list(DIR).find((n) => n.endsWith('.log'))!;
  const bytes = fs.peek(`${DIR}/${log}`);
  fs.poke(`${DIR}/${log}`, bytes.subarray(0, bytes.length - 10));
  assert.equal(describe((await RaftStorage.open(fs, DIR)).initialState()), 'hard=1//0 snap=0/0[] log=[1/1:e1]');
});

test('damage before the end of the log is CORRUPTION, and so is a missing snapshot file', async () => {
  const fs = new MemoryFileSystem();
  const storage = await RaftStorage.open(fs, DIR);
  await storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: '', commit: 2 }, mustSync: true });
  await storage.compact(snapshotAt(1, 1));
  await storage.save({ entries: [entry(3, 1)], mustSync: true });
  storage.close();
  const log = fs.list(DIR).find((n) => n.endsWith('.log'))!;
  const bytes = fs.peek(`${DIR}/${log}`);
  const flipped = bytes.slice();
  flipped[12]! ^= 0x40; // inside the header record, with records after it
  fs.poke(`${DIR}/${log}`, flipped);
  await assert.rejects(RaftStorage.open(fs, DIR), { code: 'CORRUPTION' });
  fs.poke(`${DIR}/${log}`, bytes);
  fs.remove(`${DIR}/${fs.list(DIR).find((n) => n.endsWith('.snap'))!}`);
  await assert.rejects(RaftStorage.open(fs, DIR), (e: Error & { code?: string }) => e.code === 'CORRUPTION' && /missing/.test(e.message));
});

// ——— Crash-state exploration ———

const OPS = Number(process.env.RAFT_CRASH_OPS ?? 80);
const MUTATING = new Set(['create', 'append', 'sync', 'rename', 'remove', 'syncDir', 'mkdir']);
const VARIANTS: CrashOptions[] = [
  { data: 'drop', entries: 'durable' },
  { data: 'keep', entries: 'keep' },
  { data: 'random', entries: 'random' },
];

/** The workload's model of the storage: the same state, kept by the test. */
class Model {
  hardState: HardState = { term: 0, vote: '', commit: 0 };
  snapshot: Snapshot = { index: 0, term: 0, voters: [], data: new Uint8Array(0) };
  entries: Entry[] = [];
  last(): number {
    return this.snapshot.index + this.entries.length;
  }
  termAt(index: number): number {
    return index === this.snapshot.index ? this.snapshot.term : this.entries[index - this.snapshot.index - 1]!.term;
  }
  text(): string {
    return describe(this);
  }
}

interface Pending {
  fs: MemoryFileSystem;
  at: string;
  /** States the recovered one may equal: every state since the last fsync. */
  allowed: string[];
}

type OpKind = 'append' | 'truncate' | 'commit' | 'compact' | 'install';

/**
 * The workload: random appends, truncations, commit-only hard states (not fsynced),
 * compactions and leader snapshots, each applied to the model first, recording every state a
 * crash may legitimately come back to (after each record it writes), then to the storage.
 */
class Workload {
  readonly model = new Model();
  /** States since the last fsync, oldest first. */
  allowed = [this.model.text()];
  readonly kinds: Record<OpKind, number> = { append: 0, truncate: 0, commit: 0, compact: 0, install: 0 };

  constructor(private readonly storage: RaftStorage, private readonly random: () => number) {}

  private note(): void {
    this.allowed.push(this.model.text());
  }

  /** Runs one random operation; a synced one leaves only its final state allowed. */
  async step(op: number): Promise<void> {
    const { model } = this;
    const roll = this.random();
    const uncommitted = model.last() > model.hardState.commit;
    const kind: OpKind | undefined = roll < 0.35 || model.last() === 0 ? 'append' : roll < 0.55 && uncommitted ? 'truncate'
      : roll < 0.7 && uncommitted ? 'commit' : roll < 0.92 && model.hardState.commit > model.snapshot.index ? 'compact' : roll >= 0.92 ? 'install' : undefined;
    if (!kind) return;
    this.kinds[kind]++;
    await this[kind](op);
    if (kind !== 'commit') this.allowed = [model.text()];
  }

  private async append(op: number): Promise<void> {
    const { model } = this;
    const term = Math.max(model.hardState.term, 1);
    const entries = Array.from({ length: 1 + Math.floor(this.random() * 3) }, (_, k) => entry(model.last() + 1 + k, term, `a${op}.${k}`));
    model.entries.push(...entries);
    this.note();
    const commit = model.hardState.commit + Math.floor(this.random() * (model.last() - model.hardState.commit + 1));
    model.hardState = { term, vote: 'n1', commit };
    this.note();
    await this.storage.save({ entries, hardState: model.hardState, mustSync: true });
  }

  private async truncate(op: number): Promise<void> {
    const { model } = this;
    const from = model.hardState.commit + 1 + Math.floor(this.random() * (model.last() - model.hardState.commit));
    const entries = [entry(from, model.hardState.term + 1, `t${op}`)];
    model.entries = model.entries.filter((e) => e.index < from).concat(entries);
    this.note();
    model.hardState = { term: model.hardState.term + 1, vote: 'n2', commit: model.hardState.commit };
    this.note();
    await this.storage.save({ entries, hardState: model.hardState, mustSync: true });
  }

  /** A commit-only change is written without an fsync: a crash may lose it. */
  private async commit(): Promise<void> {
    this.model.hardState = { ...this.model.hardState, commit: this.model.hardState.commit + 1 };
    this.note();
    await this.storage.save({ entries: [], hardState: this.model.hardState, mustSync: false });
  }

  private async compact(): Promise<void> {
    const { model } = this;
    const index = model.snapshot.index + 1 + Math.floor(this.random() * (model.hardState.commit - model.snapshot.index));
    const snapshot = snapshotAt(index, model.termAt(index));
    model.entries = model.entries.filter((e) => e.index > index);
    model.snapshot = snapshot;
    this.note();
    await this.storage.compact(snapshot);
  }

  private async install(): Promise<void> {
    const { model } = this;
    const snapshot = snapshotAt(model.last() + 2, model.hardState.term + 1);
    model.snapshot = snapshot;
    model.entries = [];
    model.hardState = { term: snapshot.term, vote: '', commit: snapshot.index };
    this.note();
    await this.storage.save({ snapshot, entries: [], hardState: model.hardState, mustSync: true });
  }
}

test('every crash state while appending, truncating, compacting and installing snapshots reopens into a state the workload passed through since its last fsync', async (t) => {
  const seed = Number(process.env.RAFT_CRASH_SEED ?? 7);
  const fs = new MemoryFileSystem();
  const pending: Pending[] = [];
  let workload: Workload | undefined;
  let calls = 0;
  fs.fault = (op, path) => {
    calls++;
    if (!MUTATING.has(op)) return undefined;
    const allowed = workload ? [...workload.allowed] : [new Model().text()];
    VARIANTS.forEach((variant, k) => pending.push({ fs: fs.crash(seed * 7919 + calls * 3 + k, variant), at: `call ${calls}: ${op} ${path}`, allowed }));
    return undefined;
  };
  let explored = 0;
  const drain = async () => {
    for (const state of pending.splice(0)) {
      const recovered = await RaftStorage.open(state.fs, DIR);
      const text = describe(recovered.initialState());
      recovered.close();
      assert.ok(state.allowed.includes(text), `crash before ${state.at}: recovered ${text}\nallowed:\n${state.allowed.join('\n')}`);
      explored++;
    }
  };
  const storage = await RaftStorage.open(fs, DIR);
  await drain();
  workload = new Workload(storage, seededRandom(seed));
  for (let op = 0; op < OPS; op++) {
    await workload.step(op);
    await drain();
  }
  storage.close();
  t.diagnostic(`${explored} crash states explored over ${calls} file-system calls (${JSON.stringify(workload.kinds)})`);
  assert.ok(explored > OPS * VARIANTS.length, 'every operation must be crashed into');
  assert.ok(Object.values(workload.kinds).every((n) => n > 0), `the workload must do every kind of operation: ${JSON.stringify(workload.kinds)}`);
});
