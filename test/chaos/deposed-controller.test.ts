/**
 * A lease asked of a controller that has just lost the control plane's leadership
 * (bugs-ctests2.md #3, fixed): one shard of one node and three controller-only
 * nodes. The control plane's leader is stopped (SIGSTOP) until the other two have elected one
 * of them; lease requests for the shard are then sent straight to the stopped one (its kernel
 * queues them) and it is woken. It still believes it leads, so it takes them, and the Raft read
 * each grant starts fails when it learns of the new term (RaftError LEADERSHIP_LOST).
 *
 * Asserted: every request is answered 503 NOT_CONTROLLER (naming the leader in
 * X-Controller-Leader when known), which the nodes' metadata client follows to the new leader,
 * and the woken controller logs no error. Which requests it takes before it hears of the new
 * term depends on the order it reads its sockets in: the shard leader's own renewals, queued
 * during the pause too, are usually among them. Those are what fail today: answered 500
 * INTERNAL ("internal error; see the node log"), each logged at error level ("request failed:
 * raft group …: no longer the leader of term 1"), and the asking leader, seeing a code other
 * than NOT_CONTROLLER, does not try the new controller leader until its next renewal.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { HttpTransport } from '../../net/index.ts';
import { errorCode } from '../../net/response.ts';
import { waitFor } from '../replication/nodes.ts';
import { LocalCluster } from './local-cluster.ts';

const REQUESTS = 6;
const QUEUE_SETTLE_MS = 300;
const WAIT_MS = 60_000;

let cluster: LocalCluster | undefined;
after(() => cluster?.close());

async function controlRole(address: string): Promise<{ role: string; term: number } | undefined> {
  try {
    const res = await fetch(`http://${address}/internal/control`, { signal: AbortSignal.timeout(2_000) });
    return await res.json() as { role: string; term: number };
  } catch {
    return undefined;
  }
}

test('a controller that lost the leadership while asked for leases answers NOT_CONTROLLER, never 500', { timeout: 10 * 60_000 }, async (t) => {
  cluster = await LocalCluster.start({ shards: 1, replicas: 0, controllers: 'dedicated' });
  const c = cluster;
  const shard = await c.shardMeta('shard-0');
  let leader: string | undefined;
  await waitFor('a controller leading the control plane', async () => {
    for (const address of c.controllers) if ((await controlRole(address))?.role === 'leader') leader = address;
    return leader !== undefined;
  }, WAIT_MS);
  const old = leader!;
  const others = c.controllers.filter((a) => a !== old);
  const transport = new HttpTransport({ requestTimeoutMs: WAIT_MS, responseBytesMax: 1 << 20, socketsPerNodeMax: REQUESTS });
  try {
    c.node(old).signal('SIGSTOP');
    await waitFor('another controller to lead the control plane', async () => (await Promise.all(others.map(controlRole))).some((s) => s?.role === 'leader'), WAIT_MS);
    const body = new TextEncoder().encode(JSON.stringify({ shard: shard.name, node: shard.leader, term: shard.term }));
    const answers = Array.from({ length: REQUESTS }, () => transport.request(old, { method: 'POST', path: '/internal/control/lease', headers: { 'Content-Type': 'application/json' }, body }));
    await delay(QUEUE_SETTLE_MS);
    c.node(old).signal('SIGCONT');
    const results = await Promise.all(answers);
    const seen = results.map((r) => `${r.status} ${errorCode(r) ?? ''}${r.headers['x-controller-leader'] ? ` (leader ${r.headers['x-controller-leader']})` : ''}`.trim());
    t.diagnostic(`lease requests to the deposed controller ${old} were answered: ${seen.join(', ')}`);
    for (const r of results) assert.ok(r.status === 503 && errorCode(r) === 'NOT_CONTROLLER', `a lease request to a deposed controller was answered ${r.status} ${errorCode(r) ?? ''}: ${Buffer.from(r.body).toString().slice(0, 200)}`);
    const errors = c.logLines([old]).filter((l) => l.fields['level'] === 'error');
    assert.deepEqual(errors.map((l) => `${l.message}: ${String(l.fields['error'])}`), [], 'the deposed controller logged no error');
  } finally {
    c.node(old).signal('SIGCONT');
    transport.close();
  }
});
