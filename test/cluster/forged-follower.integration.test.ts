/**
 * Issue 16, finding 3, on real nodes: a follower is who the committed metadata says. A stream
 * or a position report naming a node outside the shard is refused (403 NOT_A_MEMBER) and leaves
 * no trace in the leader's follower table; a member's report of more than the leader wrote is
 * capped at the leader's last sequence; and with the only real follower gone, no forged report
 * can confirm an acks=all write.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';

const FORGED = '6.6.6.6:1';

describe('a leader and its followers, against forged identities', () => {
  let cluster: TestCluster;
  let leader: string;
  let replica: string;
  before(async () => {
    cluster = await startCluster({ shards: 1, replicas: 1, controllers: 1 });
    leader = cluster.shards[0]!.leader;
    replica = cluster.shards[0]!.replicas[0]!;
  });
  after(() => cluster?.close());

  const term = async () => (await rawRequest(leader, 'GET', '/healthz')).json().term as number;
  const followers = async () => (await rawRequest(leader, 'GET', '/internal/state')).json().replication.leader.followers as { node: string; applied: number }[];

  it('refuses a replication stream for a node outside the shard', async () => {
    const path = `/internal/replication/stream?node=${FORGED}&from=1&term=${await term()}&data_term=0`;
    // A stream served would never end: look at its status first, so the test fails rather than hangs.
    assert.equal(await statusOnly(leader, path), 403, 'a stream for a non-member is refused, not served');
    const res = await rawRequest(leader, 'GET', path);
    assert.equal(res.status, 403);
    assert.equal(res.json().code, 'NOT_A_MEMBER');
    assert.match(res.json().message, /6\.6\.6\.6:1 is not a member of this shard/);
  });

  it('refuses a position report from a node outside the shard, and keeps no entry for it', async () => {
    const res = await rawRequest(leader, 'POST', '/internal/replication/ack', { body: JSON.stringify({ node: FORGED, term: await term(), applied: 1_000_000, checkpoint: null }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 403);
    assert.equal(res.json().code, 'NOT_A_MEMBER');
    assert.deepEqual((await followers()).map((f) => f.node), [replica], 'only the shard\'s member is in the follower table');
  });

  it('caps a member\'s report at the leader\'s last sequence', async () => {
    await rawRequest(leader, 'PUT', '/kv/capped', { body: 'x' });
    const res = await rawRequest(leader, 'POST', '/internal/replication/ack', { body: JSON.stringify({ node: replica, term: await term(), applied: 1e12, checkpoint: null }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 204);
    const state = (await rawRequest(leader, 'GET', '/internal/state')).json();
    const applied = state.replication.leader.followers.find((f: { node: string }) => f.node === replica).applied;
    assert.ok(applied <= state.lastSequence, `reported 1e12, recorded ${applied}, leader at ${state.lastSequence}`);
  });

  it('confirms no acks=all write by forged reports once the real follower is gone', async () => {
    await cluster.nodes.get(replica)!.kill();
    // A forger keeps reporting "applied everything" in the name of a non-member while writes go on.
    let forging = true;
    const forger = (async () => {
      while (forging) {
        await rawRequest(leader, 'POST', '/internal/replication/ack', { body: JSON.stringify({ node: FORGED, term: await term(), applied: 1e12, checkpoint: null }), headers: { 'Content-Type': 'application/json' } }).catch(() => undefined);
        await delay(20);
      }
    })();
    try {
      const res = await rawRequest(leader, 'PUT', '/kv/needs-a-replica?acks=all', { body: 'v' });
      assert.notEqual(res.status, 204, 'an acks=all write with no live in-sync follower is not acknowledged');
      assert.ok(['NOT_ENOUGH_REPLICAS', 'UNCONFIRMED'].includes(res.json().code), `refused as unconfirmable, got ${res.status} ${res.json().code}`);
    } finally {
      forging = false;
      await forger;
    }
    assert.ok(!(await followers()).some((f) => f.node === FORGED), 'the forger never entered the follower table');
  });
});

/** The status of a GET, read from the response head; the connection is closed at once. */
function statusOnly(address: string, path: string): Promise<number> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), path, agent: false }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on('error', reject);
  });
}
