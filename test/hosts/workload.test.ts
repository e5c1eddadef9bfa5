/**
 * The workload runner against an in-memory store behind the client's Transport seam (no
 * namespaces, runs anywhere): an honest store passes both checks, with refused and
 * unconfirmed writes recorded as fail and info; a store that acknowledges a write and then
 * forgets it is caught. And the rule that sorts a failed write into "certainly not made"
 * or "unknown".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientError, Client, ConnectionError, type Transport, type TransportRequest, type TransportResponse } from '../../net/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { NemesisLog } from './nemesis-log.ts';
import { certainlyNotApplied, Workload, type Connect } from './workload.ts';
import { findTermConflicts, type Acknowledgement } from './acknowledgements.ts';

const NODE = '198.18.0.10:7000';
const encoder = new TextEncoder();

const answer = (status: number, body: unknown = undefined, headers: Record<string, string> = {}): TransportResponse => ({
  status, headers: { 'content-type': 'application/json', ...headers }, body: encoder.encode(body === undefined ? '' : JSON.stringify(body)),
});

/**
 * One register store: each request is applied atomically when it arrives. `misbehave` decides,
 * per write, to refuse it before writing (503 NOT_ENOUGH_REPLICAS), to apply it and answer
 * UNCONFIRMED, to acknowledge it without applying it (a lost write), or to behave.
 */
function store(misbehave: (writeNumber: number) => 'refuse' | 'unconfirmed' | 'forget' | 'ok'): Transport {
  const data = new Map<string, string>();
  let seq = 0;
  let writes = 0;
  const handle = (request: TransportRequest): TransportResponse => {
    if (request.path === '/cluster') return answer(200, { version: 1, ring: { hash: 'xxhash64', placement: 'sectored', vnodes: 64 }, shards: [{ name: 'shard-0', leader: NODE, replicas: [], term: 1 }] });
    const key = decodeURIComponent(request.path.slice('/kv/'.length).split('?')[0]!);
    if (request.method === 'GET') {
      const value = data.get(key);
      return value === undefined ? answer(404, { code: 'KEY_NOT_FOUND', message: 'no such key' }) : { status: 200, headers: {}, body: encoder.encode(value) };
    }
    const behaviour = misbehave(++writes);
    if (behaviour === 'refuse') return answer(503, { code: 'NOT_ENOUGH_REPLICAS', message: 'refused before writing' });
    if (behaviour !== 'forget') data.set(key, Buffer.from(request.body!).toString('utf8'));
    if (behaviour === 'unconfirmed') return answer(503, { code: 'UNCONFIRMED', message: 'written, not confirmed' });
    return answer(204, undefined, { 'x-seq': String(++seq), 'x-shard': 'shard-0', 'x-term': '1' });
  };
  return {
    // Answer on a later turn, so the workers interleave.
    request: async (_address, request) => {
      await new Promise((resolve) => setImmediate(resolve));
      return handle(request);
    },
    stream: () => Promise.reject(new Error('the workload opens no streams')),
    close() {},
  };
}

async function runAgainst(transport: Transport, writeRetryMsMax = 0) {
  const connect: Connect = (options) => Client.connect([NODE], { ...options, retriesMax: 0 });
  const load = await Workload.start(connect, { workers: 4, keys: 3, opsMax: 600, seed: 3, transport: () => transport, writeRetryMsMax, backoffMsMax: 20 });
  await load.finished();
  await load.stop();
  const log = new NemesisLog();
  log.record('kill', 'h9 (a made-up event, to be counted)');
  return load.check(connect, log);
}

test('an honest store passes both checks, refused writes recorded as failed and unconfirmed ones as unknown', async () => {
  const random = seededRandom(5);
  const report = await runAgainst(store(() => {
    const r = random();
    return r < 0.1 ? 'refuse' : r < 0.2 ? 'unconfirmed' : 'ok';
  }));
  assert.deepEqual(report.lost, []);
  assert.equal(report.linearizability.verdict, 'linearizable', report.explain());
  const c = report.counts;
  assert.equal(c.reads + c.writes, 600);
  assert.ok(c.failed > 0 && c.unknown > 0 && c.acknowledged > 0, JSON.stringify(c));
  assert.equal(c.acknowledged + c.failed + c.unknown, c.writes);
  assert.match(report.summary, /^operations 600 \(reads \d+, \d+ ok; writes \d+: \d+ acknowledged, \d+ failed, \d+ unknown\); lost 0; linearizable \(3 keys, \d+ steps\); two nodes acknowledging in one term: never; nemesis: kill 1$/);
  assert.equal(report.acknowledgements.length, c.acknowledged);
  for (const a of report.acknowledgements) assert.deepEqual([a.node, a.shard, a.term], [NODE, 'shard-0', 1], `op ${a.id}`);
  assert.deepEqual(report.unlabelled, []);
  assert.equal(report.errors.get('NOT_ENOUGH_REPLICAS'), c.failed);
  assert.equal(report.errors.get('UNCONFIRMED'), c.unknown);
});

test('with retries, a refused or unconfirmed write is tried again as a new operation with a new value, and the application sees none fail', async () => {
  const report = await runAgainst(store((n) => (n % 3 === 0 ? 'refuse' : n % 3 === 1 ? 'unconfirmed' : 'ok')), 10_000);
  const c = report.counts;
  assert.deepEqual(report.lost, []);
  assert.equal(report.linearizability.verdict, 'linearizable', report.explain());
  assert.ok(c.retried > 0, JSON.stringify(c));
  assert.equal(c.writesFailed, 0, JSON.stringify(c));
  const values = report.acknowledgements.map((a) => a.value);
  assert.equal(new Set(values).size, values.length, 'every attempt wrote a value of its own');
  assert.ok(values.some((v) => /^w\d+-\d+\.\d+$/.test(v)), 'some acknowledged values are retries (w<worker>-<n>.<attempt>)');
});

test('a store that acknowledges writes and then forgets them is caught', async () => {
  const report = await runAgainst(store((n) => (n % 40 === 0 ? 'forget' : 'ok')));
  assert.equal(report.linearizability.verdict, 'not-linearizable');
  assert.match(report.explain(), /timeline of reg-\d:\n/);
});

test('a failed write is "certainly not made" only on a refusal before writing, a 4xx or a refused connection', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const unavailable = (cause: Error) => new ClientError('UNAVAILABLE', 'failed', { cause: new ConnectionError(NODE, cause.message, { cause }) });
  const cases: [unknown, boolean][] = [
    [new ClientError('NOT_ENOUGH_REPLICAS', 'x', { status: 503 }), true],
    [new ClientError('LEASE_EXPIRED', 'x', { status: 503 }), true],
    [new ClientError('OVERLOADED', 'x', { status: 503 }), true],
    [new ClientError('MIGRATING', 'x', { status: 503 }), true],
    [new ClientError('BAD_QUERY', 'x', { status: 400 }), true],
    [new ClientError('UNCONFIRMED', 'x', { status: 503 }), false],
    [new ClientError('NOT_LEADER', 'x', { status: 503 }), false],
    [unavailable(refused), true],
    [unavailable(reset), false],
    [unavailable(new Error('no response within 4000 ms')), false],
    [new Error('something else'), false],
  ];
  for (const [error, expected] of cases) assert.equal(certainlyNotApplied(error), expected, `${(error as Error).message} (${(error as ClientError).code ?? ''})`);
});

test('two nodes acknowledging writes of one shard at one term is a conflict; one node per term, or one term per node, is not', () => {
  const ack = (id: number, node: string, term: number, shard = 's0'): Acknowledgement => ({ id, key: 'k', value: `v${id}`, node, shard, term, invokeTime: id, time: id + 0.5 });
  assert.deepEqual(findTermConflicts([ack(0, 'a', 1), ack(1, 'a', 1), ack(2, 'b', 2), ack(3, 'a', 3), ack(4, 'b', 1, 's1')]), []);
  const conflicts = findTermConflicts([ack(0, 'a', 1), ack(1, 'b', 2), ack(2, 'a', 2), ack(3, 'a', 2)]);
  assert.equal(conflicts.length, 1);
  assert.equal(conflicts[0]!.term, 2);
  assert.deepEqual([...conflicts[0]!.nodes], [['b', 1], ['a', 2]]);
  assert.match(conflicts[0]!.explanation, /^shard s0 at term 2: writes acknowledged by 2 nodes: b \(1 writes, first op 1 at 1\.5 ms\), a \(2 writes, first op 2 at 2\.5 ms\)$/);
});
