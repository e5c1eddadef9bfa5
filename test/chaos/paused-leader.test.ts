/**
 * A paused old leader (issue 18's stalled leader, on loopback so it runs anywhere): one shard
 * (a leader and 2 replicas) and three controller-only nodes, under a small acks=all load. The
 * leader is stopped with SIGSTOP and kept stopped past its lease, until the control plane has
 * elected another member and that one has acknowledged writes. Then writes and leader reads are
 * sent straight to the stopped node: its kernel accepts and queues them, so the node meets them
 * the moment it wakes, before any timer of its own has run and before it hears of the new term.
 * SIGCONT, and a few more right after it.
 *
 * Asserted: the election came no sooner than lease_ms after the pause (the control plane waits
 * out the old lease); the woken node acknowledges none of those writes and answers none of
 * those reads (it holds no valid lease: LEASE_EXPIRED, or it has learned the new term: a
 * redirect, or NOT_LEADER); it rejoins the in-sync set as a follower; and over the whole
 * history no acknowledged write is lost, every key is linearizable, and no two nodes
 * acknowledged at one term. Writes the node had accepted before it was stopped may still be
 * acknowledged when it wakes: they were applied by the in-sync set before the election.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, HttpTransport } from '../../net/index.ts';
import { DEFAULT_CONTROL } from '../../protocol/control-options.ts';
import { percentEncode } from '../../protocol/index.ts';
import { errorCode } from '../../net/response.ts';
import { waitFor } from '../replication/nodes.ts';
import { Workload, type Connect, type DirectAnswer } from '../hosts/workload.ts';
import { LocalCluster } from './local-cluster.ts';

const SHARD = 'shard-0';
const QUEUED_WRITES = 8;
const QUEUED_READS = 4;
const WRITES_AFTER_WAKE = 4;
/** Time for the queued requests to reach the stopped node's socket buffers before it wakes. */
const QUEUE_SETTLE_MS = 300;
/** A request queued at a stopped node is answered once it wakes: well within this. */
const DIRECT_TIMEOUT_MS = 60_000;
const WAIT_MS = 120_000;

let cluster: LocalCluster | undefined;
after(() => cluster?.close());

test('a leader stopped past its lease and woken after another was elected acknowledges nothing sent to it and serves no leader read; nothing acknowledged is lost', { timeout: 15 * 60_000 }, async (t) => {
  cluster = await LocalCluster.start({ shards: 1, replicas: 2, controllers: 'dedicated' });
  const c = cluster;
  const seeds = c.shards[0]!.replicas.concat(c.shards[0]!.leader);
  const connect: Connect = (o) => Client.connect(seeds, o);
  const load = await Workload.start(connect, { workers: 4, keys: 6, seed: 11, opsMax: 1_000_000, durationMsMax: 20 * 60_000, requestTimeoutMs: 5_000, backoffMsMax: 200 });
  const transport = new HttpTransport({ requestTimeoutMs: DIRECT_TIMEOUT_MS, responseBytesMax: 1 << 20, socketsPerNodeMax: QUEUED_WRITES + QUEUED_READS + WRITES_AFTER_WAKE });
  let queuedWrites: Promise<DirectAnswer[]> | undefined;
  let queuedReads: Promise<(number | string)[]> | undefined;
  let wokenWrites: DirectAnswer[] = [];
  try {
    await load.waitForProgress({ acknowledged: 30 }, 'writes acknowledged before the pause', WAIT_MS);
    const before = await c.shardMeta(SHARD);
    const old = before.leader;
    const pausedAt = performance.now();
    c.node(old).signal('SIGSTOP');
    t.diagnostic(`SIGSTOP to ${old}, leader of ${SHARD} at term ${before.term}`);

    await waitFor(`a leader other than ${old} at a term above ${before.term}`, async () => {
      const now = await c.shardMeta(SHARD);
      return now.term > before.term && now.leader !== old;
    }, WAIT_MS);
    const elected = c.logLines(c.controllers).find((l) => l.message === 'elected a new shard leader' && Number(l.fields['term']) > before.term);
    assert.ok(elected, 'a controller logged the election');
    const electedAfterMs = elected.timeMs - performance.timeOrigin - pausedAt;
    await load.waitForProgress({ acknowledged: 30 }, 'writes acknowledged by the new leader', WAIT_MS);
    assert.ok(load.acknowledgements.some((a) => a.term! > before.term), 'the new leader acknowledged writes at its term');

    queuedWrites = Promise.all(Array.from({ length: QUEUED_WRITES }, (_, i) => load.directWrite(transport, old, load.keys[i % load.keys.length]!)));
    queuedReads = Promise.all(Array.from({ length: QUEUED_READS }, (_, i) => directRead(transport, old, load.keys[i]!)));
    await delay(QUEUE_SETTLE_MS);
    const wokeAt = performance.now();
    c.node(old).signal('SIGCONT');
    wokenWrites = await Promise.all(Array.from({ length: WRITES_AFTER_WAKE }, (_, i) => load.directWrite(transport, old, load.keys[i]!)));
    const writes = [...await queuedWrites, ...wokenWrites];
    const reads = await queuedReads;
    t.diagnostic(`paused ${Math.round(wokeAt - pausedAt)} ms (lease_ms ${DEFAULT_CONTROL.leaseMs}); the control plane elected ${String(elected.fields['leader'])} at term ${String(elected.fields['term'])} ${Math.round(electedAfterMs)} ms after the pause`);
    for (const w of writes) t.diagnostic(`a write to the woken node: ${w.code}${w.term === undefined ? '' : ` at X-Term ${w.term}`}: ${w.message}`);
    t.diagnostic(`its leader reads: ${reads.join(', ')}`);
    for (const l of c.logLines(c.controllers).filter((x) => x.message === 'elected a new shard leader')) t.diagnostic(`elected ${String(l.fields['leader'])} at term ${String(l.fields['term'])}, ${Math.round(l.timeMs - performance.timeOrigin - pausedAt)} ms after the pause; candidates ${JSON.stringify(l.fields['candidates'])}`);

    assert.ok(electedAfterMs >= DEFAULT_CONTROL.leaseMs, `the control plane elected a new leader ${Math.round(electedAfterMs)} ms after the old one stopped, within its lease of ${DEFAULT_CONTROL.leaseMs} ms`);
    const acknowledged = writes.filter((w) => w.status === 204);
    assert.deepEqual(acknowledged, [], `the woken old leader acknowledged writes under term ${acknowledged.map((w) => w.term).join(', ')}`);
    assert.ok(writes.every((w) => w.status !== undefined), 'the woken node answered every write');
    assert.ok(!reads.includes(200), `the woken old leader served leader reads: ${reads.join(', ')}`);

    await waitFor(`${old} back in the in-sync set, as a follower`, async () => {
      const now = await c.shardMeta(SHARD);
      return now.leader !== old && now.inSync.includes(old);
    }, WAIT_MS);
    await load.waitForProgress({ acknowledged: 30 }, 'writes acknowledged once the old leader rejoined', WAIT_MS);
  } finally {
    for (const address of c.addresses) c.node(address).signal('SIGCONT');
    await load.stop();
    await Promise.allSettled([queuedWrites, queuedReads]);
    transport.close();
  }
  const report = await load.check(connect);
  t.diagnostic(report.summary);
  assert.deepEqual(report.lost, [], report.explain());
  assert.equal(report.linearizability.verdict, 'linearizable', report.explain());
  assert.deepEqual(report.termConflicts, [], report.explain());
  assert.deepEqual(report.unlabelled, [], report.explain());
});

/** A leader read sent straight to `address`: 200 if it was served (a value, or "no such key"), else the status and code, or the connection error. */
async function directRead(transport: HttpTransport, address: string, key: string): Promise<number | string> {
  try {
    const res = await transport.request(address, { method: 'GET', path: `/kv/${percentEncode(new TextEncoder().encode(key))}`, headers: {} });
    const code = errorCode(res);
    return res.status === 200 || code === 'KEY_NOT_FOUND' ? 200 : `${res.status} ${code ?? ''}`.trim();
  } catch (error) {
    return (error as Error).message;
  }
}
