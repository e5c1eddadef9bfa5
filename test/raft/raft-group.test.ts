/**
 * RaftGroup, the driver: proposals resolve with the state machine's result or reject with a
 * code that says whether they may have happened; reads are linearizable barriers; every vote
 * and acknowledgement is durable when it is sent (checked by a power cut at that moment);
 * snapshots compact the log and catch up a new member; a restart restores the state machine;
 * a storage failure stops the group.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IoError, MemoryFileSystem, seededRandom } from '../../engine/index.ts';
import {
  MessageType, outcomeUnknown, RaftGroup, RaftStorage, validateRaftLimits, type Message, type RaftLimits, type StateMachine,
} from '../../cluster/raft/index.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class KvMachine implements StateMachine {
  values = new Map<string, string>();
  apply(index: number, data: Uint8Array): unknown {
    const [key, value] = decoder.decode(data).split('=') as [string, string];
    this.values.set(key, value);
    return `${key} set at ${index}`;
  }
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.values]));
  }
  restore(data: Uint8Array): void {
    this.values = new Map(JSON.parse(decoder.decode(data)) as Array<[string, string]>);
  }
}

interface Member {
  fs: MemoryFileSystem;
  group: RaftGroup;
  machine: KvMachine;
}

/** Members over a hand-driven network: messages wait in a queue until `deliver`. */
class TestCluster {
  readonly members = new Map<string, Member>();
  queue: Message[] = [];
  cut = new Set<string>();
  onSend: ((from: string, messages: Message[]) => void) | undefined;
  fatal: Error[] = [];

  constructor(private readonly limits: Partial<RaftLimits> = {}) {}

  async start(id: string, initialVoters: string[], fs = new MemoryFileSystem()): Promise<Member> {
    const machine = new KvMachine();
    const group = await RaftGroup.open({
      id, fileSystem: fs, dir: '/raft', initialVoters, stateMachine: machine, random: seededRandom(id.charCodeAt(1) * 97 + this.members.size),
      limits: { electionTicks: 10, ...this.limits },
      send: (messages) => { this.onSend?.(id, messages); this.queue.push(...messages); },
      onFatal: (error) => this.fatal.push(error),
    });
    const member = { fs, group, machine };
    this.members.set(id, member);
    return member;
  }

  member(id: string): Member {
    return this.members.get(id)!;
  }

  async settle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      for (const m of this.members.values()) await m.group.idle();
      await new Promise((resolve) => setImmediate(resolve));
      if (this.queue.length === 0 && [...this.members.values()].every((m) => !m.group.busy)) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) if (!this.cut.has(m.from) && !this.cut.has(m.to)) this.members.get(m.to)?.group.receive(m);
    }
    throw new Error('the cluster never settled');
  }

  async tick(n: number): Promise<void> {
    for (let k = 0; k < n; k++) {
      for (const m of this.members.values()) m.group.tick();
      await this.settle();
    }
  }

  async elect(id: string): Promise<void> {
    this.member(id).group.campaign();
    await this.settle();
    assert.equal(this.member(id).group.status().role, 'leader');
  }
}

test('a proposal resolves with the state machine result once applied, and a read after it sees the write', async () => {
  const cluster = new TestCluster();
  for (const id of ['n1', 'n2', 'n3']) await cluster.start(id, ['n1', 'n2', 'n3']);
  await cluster.elect('n1');
  const proposal = cluster.member('n1').group.propose(encoder.encode('color=blue'));
  await cluster.settle();
  assert.equal(await proposal, 'color set at 2');
  const read = cluster.member('n1').group.read();
  await cluster.settle();
  await read;
  assert.equal(cluster.member('n1').machine.values.get('color'), 'blue');
  await assert.rejects(cluster.member('n2').group.propose(encoder.encode('x=1')), (e: Error & { code?: string; leaderHint?: string }) => e.code === 'NOT_LEADER' && e.leaderHint === 'n1');
  await assert.rejects(cluster.member('n3').group.read(), { code: 'NOT_LEADER' });
});

test('every vote and acknowledgement is durable when it is sent: a power cut at that moment keeps what it promised', async () => {
  const cluster = new TestCluster();
  const promises: Array<{ image: MemoryFileSystem; m: Message }> = [];
  cluster.onSend = (from, messages) => {
    for (const m of messages) {
      const promise = (m.type === MessageType.VoteResponse && !m.reject) || (m.type === MessageType.AppendResponse && !m.reject);
      if (promise) promises.push({ image: cluster.member(from).fs.crash(promises.length, { data: 'drop', entries: 'durable' }), m });
    }
  };
  for (const id of ['n1', 'n2', 'n3']) await cluster.start(id, ['n1', 'n2', 'n3']);
  await cluster.elect('n1');
  for (let k = 0; k < 5; k++) {
    const done = cluster.member('n1').group.propose(encoder.encode(`k${k}=v${k}`));
    await cluster.settle();
    await done;
  }
  assert.ok(promises.length >= 12, `votes and acknowledgements were sent (${promises.length})`);
  for (const { image, m } of promises) {
    const state = (await RaftStorage.open(image, '/raft')).initialState();
    if (m.type === MessageType.VoteResponse) {
      assert.ok(state.hardState.term > m.term || (state.hardState.term === m.term && state.hardState.vote === m.to), `${m.from} granted its vote in term ${m.term} but a crash then leaves ${JSON.stringify(state.hardState)}`);
    } else {
      const last = state.snapshot.index + state.entries.length;
      assert.ok(last >= m.index, `${m.from} acknowledged ${m.index} but a crash then leaves its log at ${last}`);
    }
  }
});

test('a leader that loses its role rejects its pending proposals as LEADERSHIP_LOST, an outcome unknown', async () => {
  const cluster = new TestCluster();
  for (const id of ['n1', 'n2', 'n3']) await cluster.start(id, ['n1', 'n2', 'n3']);
  await cluster.elect('n1');
  cluster.cut.add('n1');
  const proposal = assert.rejects(cluster.member('n1').group.propose(encoder.encode('a=1')), (e: Error & { code?: string }) => e.code === 'LEADERSHIP_LOST' && outcomeUnknown(e));
  await cluster.settle();
  cluster.member('n1').group.receive({ ...cluster.queue[0]!, type: MessageType.AppendResponse, from: 'n2', to: 'n1', term: 9, reject: false, entries: [] });
  await cluster.settle();
  await proposal;
});

test('a proposal not settled within requestTimeoutTicks rejects with TIMEOUT', async () => {
  const cluster = new TestCluster({ checkQuorum: false, preVote: false, requestTimeoutTicks: 5 });
  for (const id of ['n1', 'n2', 'n3']) await cluster.start(id, ['n1', 'n2', 'n3']);
  await cluster.elect('n1');
  cluster.cut.add('n1');
  const proposal = assert.rejects(cluster.member('n1').group.propose(encoder.encode('a=1')), { code: 'TIMEOUT' });
  const read = assert.rejects(cluster.member('n1').group.read(), { code: 'TIMEOUT' });
  for (let k = 0; k < 5; k++) cluster.member('n1').group.tick();
  await cluster.settle();
  await proposal;
  await read;
});

test('the log is compacted every snapshotEntries applied entries, a new member catches up from the snapshot, and a restart restores the state machine', async () => {
  const cluster = new TestCluster({ snapshotEntries: 5 });
  for (const id of ['n1', 'n2', 'n3']) await cluster.start(id, ['n1', 'n2', 'n3']);
  await cluster.elect('n1');
  const leader = cluster.member('n1').group;
  for (let k = 0; k < 12; k++) {
    const done = leader.propose(encoder.encode(`k${k}=v${k}`));
    await cluster.settle();
    await done;
  }
  assert.ok(leader.status().snapshotIndex >= 10, `snapshot at ${leader.status().snapshotIndex}`);
  assert.ok(cluster.member('n2').group.status().snapshotIndex >= 10, 'followers compact too');
  const joiner = await cluster.start('n4', []);
  const added = leader.proposeMembership({ type: 'add', node: 'n4' });
  await cluster.tick(3);
  await added;
  assert.equal(joiner.machine.values.get('k11'), 'v11');
  assert.ok(joiner.group.status().snapshotIndex >= 10, 'the new member started from a snapshot');
  await cluster.member('n2').group.close();
  const restarted = new KvMachine();
  const again = await RaftGroup.open({ id: 'n2', fileSystem: cluster.member('n2').fs, dir: '/raft', initialVoters: [], stateMachine: restarted, random: seededRandom(5), send: () => {} });
  await again.idle();
  assert.deepEqual([...restarted.values], [...cluster.member('n1').machine.values]);
  await again.close();
});

test('a storage failure stops the group: pending requests reject with STOPPED and so do new ones', async () => {
  const cluster = new TestCluster();
  for (const id of ['n1', 'n2', 'n3']) await cluster.start(id, ['n1', 'n2', 'n3']);
  await cluster.elect('n1');
  const n1 = cluster.member('n1');
  n1.fs.fault = (op) => (op === 'sync' ? new IoError('memfs: sync failed (EIO)') : undefined);
  const proposal = assert.rejects(n1.group.propose(encoder.encode('a=1')), (e: Error & { code?: string }) => e.code === 'STOPPED' && outcomeUnknown(e));
  await cluster.settle();
  await proposal;
  assert.match(String(n1.group.failure), /EIO/);
  await assert.rejects(n1.group.propose(encoder.encode('b=2')), { code: 'STOPPED' });
});

test('a broken invariant stops the group and goes to onFatal (by default rethrown, killing the process)', async () => {
  const cluster = new TestCluster();
  await cluster.start('n1', ['n1', 'n2', 'n3']);
  await cluster.start('n2', ['n1', 'n2', 'n3']);
  await cluster.start('n3', ['n1', 'n2', 'n3']);
  await cluster.elect('n1');
  const n1 = cluster.member('n1').group;
  // Another member claiming to lead the same term: Election Safety is broken.
  n1.receive({ ...cluster.queue[0] ?? {}, type: MessageType.Append, from: 'n2', to: 'n1', term: n1.status().term, index: 0, logTerm: 0, commit: 0, entries: [], reject: false, rejectHint: 0, context: '' });
  assert.equal(cluster.fatal.length, 1);
  assert.match(cluster.fatal[0]!.message, /two leaders in one term/);
  assert.equal(n1.failure, cluster.fatal[0]);
  await assert.rejects(n1.propose(encoder.encode('a=1')), { code: 'STOPPED' });
});

test('limits are validated once: an unknown or out-of-range limit is CONFIG_INVALID naming it', () => {
  assert.throws(() => validateRaftLimits({ electionTicks: 1 }), { code: 'CONFIG_INVALID', message: /electionTicks must be an integer in \[2, 100000\], got 1/ });
  assert.throws(() => validateRaftLimits({ heartbeatTicks: 10, electionTicks: 10 }), /heartbeatTicks \(10\) must be below electionTicks \(10\)/);
  assert.throws(() => validateRaftLimits({ appendBytesMax: 2 ** 20, inflightBytesMax: 1024 }), /appendBytesMax .* must not exceed inflightBytesMax/);
  assert.throws(() => validateRaftLimits({ bogus: 1 } as never), /unknown limit "bogus"/);
  assert.throws(() => validateRaftLimits({ preVote: 'yes' } as never), /preVote must be true or false/);
  assert.equal(validateRaftLimits({ snapshotEntries: 7 }).snapshotEntries, 7);
});
