/**
 * The lease under a partition (issue 14): one shard on h0, h1 and h2 (h0 leads) and the
 * control plane on three hosts of its own (h3, h4, h5), each in its own network namespace. The
 * leader is cut off from every controller, both ways, while it still reaches its followers and
 * the clients: it can still replicate and answer, so only its lease can stop it. A prober sends
 * acks=all writes straight to it every few milliseconds throughout, beside a small routed load.
 *
 * Asserted:
 *  - it stops acknowledging within its lease: every write it acknowledged was sent before
 *    cut + lease_ms (the lease it holds was asked for before the cut, and it answers nothing
 *    once the lease has run out on its own clock; the bound needs no slack, since the request
 *    reached it no earlier than it was sent), and it then refuses writes (an answer, not a
 *    silence);
 *  - the majority side (the controllers and the two followers) elects one of the followers at
 *    the next term;
 *  - after healing, the old leader rejoins as a follower, and over the whole history nothing
 *    acknowledged is lost, every key is linearizable, and no two nodes acknowledged at one term.
 * Printed: when its last 204 was, against the cut and lease_ms; when the election came.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { HttpTransport, type Client } from '../../net/index.ts';
import { DEFAULT_CONTROL, leaseWaitMs } from '../../protocol/control-options.ts';
import { onHistoryClock, parseLogLines } from '../helpers/log-lines.ts';
import { waitFor } from '../replication/nodes.ts';
import { hostsUnavailable } from './capability.ts';
import { HostCluster } from './host-cluster.ts';
import { Nemesis } from './nemesis.ts';
import { Workload, type Connect, type DirectAnswer } from './workload.ts';

const skip = await hostsUnavailable();
const REQUEST_TIMEOUT_MS = 4_000;
const PROBE_GAP_MS = 10;
/** The prober runs until this long after the election, so the old leader's refusals are seen. */
const AFTER_ELECTION_MS = 1_500;
const WAIT_MS = 60_000;

let cluster: HostCluster | undefined;
let probe: Client | undefined;

before(async () => {
  if (skip) return;
  cluster = await HostCluster.start({ shards: 1, replicas: 2, controllers: 3, logLevel: 'info' });
  probe = await cluster.connect({ retriesMax: 0, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  await cluster.waitAllInSync(probe);
});

after(async () => {
  probe?.close();
  await cluster?.close();
});

test('a leader cut off from the controller majority stops acknowledging within its lease, the majority elects a follower, and after healing nothing acknowledged is lost', { skip }, async (t) => {
  const c = cluster!;
  const nemesis = new Nemesis(c);
  const connect: Connect = (o) => c.connect({ ...o, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  const load = await Workload.start(connect, { workers: 4, keys: 6, seed: 3, opsMax: 1_000_000, durationMsMax: 20 * 60_000, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  const transport = new HttpTransport({ requestTimeoutMs: 10_000, responseBytesMax: 1 << 20, socketsPerNodeMax: 2 });
  const old = await c.shardMeta();
  const oldLeader = c.hostOf(old.leader);
  const answers: DirectAnswer[] = [];
  let cutAt = Infinity;
  let electedSeenAt: number | undefined;
  let proberDone = false;
  const prober = (async () => {
    for (let i = 0; !proberDone; i++) {
      answers.push(await load.directWrite(transport, old.leader, load.keys[i % load.keys.length]!, { Authorization: `Bearer ${c.token}` }));
      await delay(PROBE_GAP_MS);
    }
  })();
  try {
    await load.waitForProgress({ acknowledged: 30 }, 'writes acknowledged before the cut', WAIT_MS);
    await waitFor('the prober\'s writes acknowledged by the leader', () => answers.filter((a) => a.status === 204).length >= 5, WAIT_MS);
    await nemesis.split([oldLeader], c.controllerHosts);
    cutAt = nemesis.log.events.at(-1)!.time;
    t.diagnostic(`${oldLeader} (leader of ${old.name} at term ${old.term}) cut off from ${c.controllerHosts.join(', ')}`);
    await waitFor('the controllers to elect another leader', async () => {
      const now = await c.shardMeta();
      return now.term > old.term && now.leader !== old.leader;
    }, WAIT_MS);
    electedSeenAt = performance.now();
    await delay(AFTER_ELECTION_MS);
    await waitFor('the cut-off leader to refuse a write', () => answers.some((a) => a.invokeTime > cutAt + DEFAULT_CONTROL.leaseMs && a.status !== undefined && a.status !== 204), WAIT_MS);
  } finally {
    proberDone = true;
    await prober;
    transport.close();
    await nemesis.healAll();
  }
  const now = await c.shardMeta();
  await waitFor(`${oldLeader} back in the in-sync set, as a follower`, async () => {
    const meta = await c.shardMeta();
    return meta.leader !== old.leader && meta.inSync.includes(old.leader);
  }, WAIT_MS);
  await load.waitForProgress({ acknowledged: 30 }, 'writes acknowledged after healing', WAIT_MS);
  await load.stop();
  const report = await load.check(connect, nemesis.log);

  const fromOld = answers.filter((a) => a.status === 204);
  const lastAck = fromOld.at(-1)!;
  const afterCut = fromOld.filter((a) => a.invokeTime > cutAt);
  const refusals = answers.filter((a) => a.invokeTime > cutAt && a.status !== 204).map((a) => a.code);
  const elected = c.hostNames.flatMap((h) => parseLogLines(h, c.node(h).stderr)).find((l) => l.message === 'elected a new shard leader' && Number(l.fields['term']) > old.term);
  const ms = (x: number) => `${Math.round(x)} ms`;
  t.diagnostic(`the prober sent ${answers.length} writes to ${oldLeader}; ${afterCut.length} were acknowledged after the cut; its last 204 was sent ${ms(lastAck.invokeTime - cutAt)} and arrived ${ms(lastAck.time - cutAt)} after the cut (lease_ms ${DEFAULT_CONTROL.leaseMs}, the control plane waits ${leaseWaitMs(DEFAULT_CONTROL)} ms)`);
  t.diagnostic(`refusals after the cut: ${[...new Set(refusals)].map((code) => `${code} ${refusals.filter((r) => r === code).length}`).join(', ')}`);
  t.diagnostic(`elected ${c.hostOf(now.leader)} at term ${now.term}${elected ? `, ${ms(onHistoryClock(elected) - cutAt)} after the cut` : ''} (seen ${ms(electedSeenAt! - cutAt)} after it)`);
  t.diagnostic(report.summary);

  for (const a of fromOld) assert.ok(a.invokeTime < cutAt + DEFAULT_CONTROL.leaseMs, `${oldLeader} acknowledged a write sent ${ms(a.invokeTime - cutAt)} after it was cut off from the controllers, past its lease of ${DEFAULT_CONTROL.leaseMs} ms`);
  assert.ok(fromOld.every((a) => a.term === old.term), 'the old leader acknowledged at its own term only');
  assert.ok(old.members.filter((m) => m !== old.leader).includes(now.leader) && now.term > old.term, `a follower leads at a later term (${now.leader} at ${now.term})`);
  assert.deepEqual(report.lost, [], report.explain());
  assert.equal(report.linearizability.verdict, 'linearizable', report.explain());
  assert.deepEqual(report.termConflicts, [], report.explain());
  assert.deepEqual(report.unlabelled, [], report.explain());
});
