/**
 * Linearizability of single-key reads and writes through leaders, on real node processes:
 * clients read and write a few keys concurrently through the routing client (two shards, each
 * a leader and a replica, writes with acks=all, one controller-only node), a replica is killed
 * with SIGKILL and restarted in the middle, and the recorded history is checked with the
 * WGL-style checker: every key's operations must have a legal sequential order consistent with
 * real time. A leader answers a read only under its lease, once its in-sync set has applied
 * what the read saw (docs/failover.md), so no read may see a value that a failover could lose.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkLinearizable, History } from '../checker/index.ts';
import { ClientError, Client } from '../../net/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { CONTROL_TOML_STEADY, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { waitFor, waitInSync } from '../replication/nodes.ts';
import { NOT_APPLIED } from '../replication/write-load.ts';

const REPLICATION = ['min_insync = 0', 'replica_lag_max_ms = 1000', 'heartbeat_interval_ms = 100'].join('\n');
const CLIENTS = 6;
const KEYS = 8;
const OPS_MAX = 2400;
const LOAD_MS_MAX = 60_000;

let cluster: TestCluster | undefined;
const clients: Client[] = [];

before(async () => {
  cluster = await startCluster({ shards: 2, replicas: 1, controllers: 1, controlToml: CONTROL_TOML_STEADY, replicationToml: REPLICATION });
  await Promise.all(cluster.shards.map((s) => waitInSync(s.leader, 1)));
});

after(async () => {
  for (const c of clients) c.close();
  await cluster?.close();
});

test('concurrent reads and writes through leaders are linearizable per key, across a replica crash', async (t) => {
  const history = new History();
  const deadline = Date.now() + LOAD_MS_MAX;
  let started = 0;
  let values = 0;
  const replica = cluster!.shards[0]!.replicas[0]!;
  const worker = async (id: number) => {
    const client = await Client.connect([cluster!.shards[0]!.leader], { retriesMax: 0 });
    clients.push(client);
    const random = seededRandom(id + 1);
    while (started < OPS_MAX && Date.now() < deadline) {
      started++;
      const key = `lin-${Math.floor(random() * KEYS)}`;
      if (random() < 0.5) {
        const op = history.invoke(id, { type: 'read', key });
        try {
          const value = await client.get(key);
          history.ok(op, value === undefined ? null : new TextDecoder().decode(value));
        } catch (error) {
          history.fail(op, (error as Error).message); // a failed read has no effect either way
        }
      } else {
        const value = `v${values++}`;
        const op = history.invoke(id, { type: 'write', key, value });
        try {
          await client.put(key, value, { acks: 'all' });
          history.ok(op);
        } catch (error) {
          const code = (error as { code?: string }).code ?? '';
          const answered = error instanceof ClientError && error.status !== undefined;
          if (answered && (NOT_APPLIED.has(code) || error.status! < 500)) history.fail(op, code);
          else history.info(op, code);
        }
      }
    }
  };
  const load = Promise.all(Array.from({ length: CLIENTS }, (_, id) => worker(id)));
  // A fault in the middle: the first shard's replica dies and comes back.
  await waitFor('a third of the operations', () => started >= OPS_MAX / 3, LOAD_MS_MAX);
  await cluster!.nodes.get(replica)!.kill();
  await waitFor('two thirds of the operations', () => started >= (2 * OPS_MAX) / 3, LOAD_MS_MAX);
  await cluster!.start(replica);
  await load;

  const result = checkLinearizable(history.events, { stepsMax: 5_000_000 });
  const reads = history.events.filter((e) => e.kind === 'ok' && e.op.type === 'read').length;
  t.diagnostic(`${result.operations} operations on ${result.keys} keys (${reads} reads returned), ${result.steps} search steps: ${result.verdict}`);
  assert.ok(started >= 300, `only ${started} operations ran`);
  assert.equal(result.verdict, 'linearizable', result.explanation);
});
