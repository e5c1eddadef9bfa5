/**
 * Issue 13's second-failover bug, as a regression test on real node processes: three shards
 * of a leader and two replicas each, and three controller-only nodes running the control plane.
 *
 * Under the old design the cluster-wide epoch history mixed sequence numbers of different
 * shards' logs: after one shard's failover, the next shard's failed with `500 INTERNAL`
 * ("cannot append epoch 3 at 328 after epoch 2 at 359"), and any promotion forced full
 * snapshots on caught-up replicas of other shards. Now each shard has its own term.
 *
 * kill -9 shard A's leader, then shard B's, then shard A's again (the leader elected the first
 * time). Each time the control plane elects a new leader on its own, at the shard's next term;
 * afterwards every shard takes an acks=all write, and the killed leader, started again, rejoins
 * as a follower. No follower is ever sent a snapshot: none of them, the returning leaders
 * included, has a divergent tail (no write was in flight at a kill), so each resumes the log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_FAILOVER, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { currentLeader, shardView, waitElection, waitElectionRecord } from '../replication/failover.ts';
import { nodeView, scanAll, waitCaughtUp, waitInSync } from '../replication/nodes.ts';

const REPLICATION = ['heartbeat_interval_ms = 100'].join('\n');
/** A, then B, then A again. */
const FAILOVERS = ['shard-0', 'shard-1', 'shard-0'];
const KEYS_PER_SHARD = 20;

describe('failovers in one shard, then another, then the first again', () => {
  let cluster: TestCluster | undefined;
  let client: Client | undefined;
  const keys = new Map<string, string[]>();
  after(async () => {
    client?.close();
    await cluster?.close();
  });

  before(async () => {
    cluster = await startCluster({ shards: 3, replicas: 2, controllers: 3, controlToml: CONTROL_TOML_FAILOVER, replicationToml: REPLICATION });
    for (const s of cluster.shards) await waitInSync(await currentLeader(members(), s.name), 2);
    client = await Client.connect(members(), { retriesMax: 6 });
    for (let i = 0; keys.size < cluster.shards.length || [...keys.values()].some((k) => k.length < KEYS_PER_SHARD); i++) {
      const key = `key-${i}`;
      const shard = client.currentTopology().shardOf(Buffer.from(key)).name;
      const list = keys.get(shard) ?? [];
      if (list.length < KEYS_PER_SHARD) list.push(key);
      keys.set(shard, list);
    }
    for (const list of keys.values()) await Promise.all(list.map((k) => client!.put(k, 'before', { acks: 'all' })));
  });

  /** Every node running now. */
  const live = () => [...cluster!.nodes.values()].filter((n) => n.running).map((n) => n.address);
  const members = () => cluster!.shards.flatMap((s) => [s.leader, ...s.replicas]);
  /** Each shard's term, from the freshest view. */
  const terms = async () => Object.fromEntries(await Promise.all(cluster!.shards.map(async (s) => [s.name, (await shardView(live(), s.name)).term])));

  it('elects a new leader each time, every shard takes acks=all writes after each, and no caught-up follower is snapshotted', async (t) => {
    // Followers that will never restart keep their counters; a restarted node counts from its start.
    const snapshotsBefore = new Map<string, number>();
    for (const node of members()) snapshotsBefore.set(node, (await nodeView(node)).replication.follower?.snapshotsInstalled ?? 0);
    const restarted = new Set<string>();
    for (const [step, name] of FAILOVERS.entries()) {
      const termsBefore = await terms();
      const previous = await shardView(live(), name);
      await cluster!.nodes.get(previous.leader)!.kill();
      const election = await waitElection(live(), name, previous.term);
      assert.equal(election.term, previous.term + 1, `${name}'s term moves by one`);
      assert.deepEqual(await terms(), { ...termsBefore, [name]: election.term }, 'the other shards\' terms do not move');
      assert.notEqual(election.leader, previous.leader);
      const record = await waitElectionRecord(cluster!.controllers.map((c) => cluster!.nodes.get(c)!), name, election.term);
      t.diagnostic(`failover ${step + 1}: ${name} from ${previous.leader} to ${election.leader} at term ${election.term}; candidates ${JSON.stringify(record?.candidates)}`);

      for (const [shard, list] of keys) {
        // acks=all waits for (min_insync =) one follower in the committed in-sync set: a new
        // leader's followers may have to reconnect and be committed back into it first.
        await waitInSync((await shardView(live(), shard)).leader, 1);
        const seq = await client!.put(list[step]!, `after-failover-${step + 1}`, { acks: 'all' });
        assert.ok(seq > 0, `${shard} took an acks=all write after failover ${step + 1}`);
      }
      await cluster!.start(previous.leader);
      restarted.add(previous.leader);
      await waitCaughtUp(previous.leader, election.leader);
      assert.equal((await nodeView(previous.leader)).replication.follower?.leader, election.leader);
    }

    // Each step checked that the other shards' terms did not move; a starved machine may since
    // have let a lease lapse (a new term for the same leader), so here only: at least as many.
    const final = await terms();
    for (const [shard, failovers] of Object.entries({ 'shard-0': 3, 'shard-1': 2, 'shard-2': 1 })) {
      assert.ok(final[shard] >= failovers, `${shard}'s term ${final[shard]} counts at least its ${failovers} failover(s)`);
    }
    for (const shard of cluster!.shards) {
      const now = await shardView(live(), shard.name);
      await waitInSync(now.leader, 2);
      for (const follower of now.replicas) {
        await waitCaughtUp(follower, now.leader);
        const view = await nodeView(follower);
        const installed = (view.replication.follower?.snapshotsInstalled ?? 0) - (restarted.has(follower) ? 0 : snapshotsBefore.get(follower)!);
        assert.equal(installed, 0, `${follower} (${shard.name}${restarted.has(follower) ? ', a returning leader' : ''}) installed ${installed} snapshot(s)`);
        assert.deepEqual(await scanAll(follower), await scanAll(now.leader), `${follower} holds ${shard.name}'s data`);
      }
    }
    const snapshotPlans = [...cluster!.nodes.values()].flatMap((n) => n.logs('follower needs a snapshot'));
    assert.deepEqual(snapshotPlans, [], 'no leader planned a snapshot for any follower');
    for (const list of keys.values()) {
      for (const [step] of FAILOVERS.entries()) assert.equal(Buffer.from((await client!.get(list[step]!))!).toString(), `after-failover-${step + 1}`);
    }
  });
});
