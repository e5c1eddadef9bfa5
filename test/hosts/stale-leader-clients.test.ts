/**
 * Clients that can still reach a deposed leader (bugs-ctests2.md #1, fixed in the client
 * library): one shard on h0, h1 and h2 (h0 leads; the control plane on the same three
 * nodes), and the leader cut off from both other hosts while the clients still reach every
 * host, as clients in the old leader's rack would. The majority elects a new leader; the old one
 * cannot hear of it, its lease runs out and it refuses writes with 503 LEASE_EXPIRED. Safe, but
 * the routing client used to never find the new leader: after an error it refreshed its topology
 * from the first node that answered /cluster, leaders first, which was the old leader, whose
 * topology was as old as the client's own. It now asks up to 16 nodes at once and keeps the
 * newest (net/client.ts `refreshTopology`).
 *
 * Asserted: after the failover the load gets writes acknowledged again while the partition
 * holds (before the fix it did not: every write was refused by the old leader until healing); and, as
 * always, nothing acknowledged is lost, every key is linearizable, one node acknowledges per term.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '../../net/index.ts';
import { waitFor } from '../replication/nodes.ts';
import { hostsUnavailable } from './capability.ts';
import { HostCluster } from './host-cluster.ts';
import { Nemesis } from './nemesis.ts';
import { Workload, type Connect } from './workload.ts';

const skip = await hostsUnavailable();
const REQUEST_TIMEOUT_MS = 4_000;
const WAIT_MS = 60_000;
/** How long the load has, after the failover, to get writes through the new leader. */
const RECOVERY_MS = 20_000;

let cluster: HostCluster | undefined;
let probe: Client | undefined;

before(async () => {
  if (skip) return;
  cluster = await HostCluster.start({ shards: 1, replicas: 2 });
  probe = await cluster.connect({ retriesMax: 0, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  await cluster.waitAllInSync(probe);
});

after(async () => {
  probe?.close();
  await cluster?.close();
});

test('clients that still reach a leader deposed behind a partition find the new leader and write through it', { skip }, async (t) => {
  const c = cluster!;
  const nemesis = new Nemesis(c);
  const connect: Connect = (o) => c.connect({ ...o, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  const load = await Workload.start(connect, { workers: 4, keys: 6, seed: 9, opsMax: 1_000_000, durationMsMax: 20 * 60_000, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  let recovered: Error | undefined;
  try {
    await load.waitForProgress({ acknowledged: 30 }, 'writes acknowledged before the partition', WAIT_MS);
    const old = await c.shardMeta();
    const oldLeader = c.hostOf(old.leader);
    await nemesis.split([oldLeader], c.hostNames.filter((h) => h !== oldLeader));
    await waitFor('the majority to elect another leader', async () => {
      const now = await c.shardMeta();
      return now.term > old.term && now.leader !== old.leader;
    }, WAIT_MS);
    recovered = await load.waitForProgress({ acknowledged: 20 }, `writes acknowledged through the new leader while ${oldLeader} is cut off`, RECOVERY_MS).then(() => undefined, (error: Error) => error);
  } finally {
    await nemesis.healAll();
  }
  await c.waitAllInSync(probe!);
  await load.stop();
  const report = await load.check(connect, nemesis.log);
  t.diagnostic(`${report.summary}; errors: ${[...report.errors].map(([code, n]) => `${code} ${n}`).join(', ')}`);
  assert.deepEqual(report.lost, [], report.explain());
  assert.equal(report.linearizability.verdict, 'linearizable', report.explain());
  assert.deepEqual(report.termConflicts, [], report.explain());
  assert.equal(recovered, undefined, recovered?.message);
});
