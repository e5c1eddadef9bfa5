/**
 * Catch-up on real node processes. A follower killed with SIGKILL and started again resumes
 * the leader's log from its own engine's last sequence number; one that missed more than the
 * retention window (64 KiB here) receives a snapshot, which also removes keys deleted while
 * it was away; a replica listed in the config but started only later, empty, catches up too.
 * A follower killed in the middle of installing a snapshot starts over from an empty engine
 * rather than take its partial data for a position. In every case its data ends equal to the
 * leader's. One controller-only node runs the control plane, so killing a follower never takes
 * the control plane's majority (and with it the leader's lease) down.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_STEADY, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { nodeView, scanAll, waitCaughtUp, waitFor, waitInSync } from './nodes.ts';

const RETENTION_BYTES = 64 * 1024;
// Small snapshot frames make an install of a few MiB take long enough to be interrupted.
const REPLICATION = [`retention_bytes_max = ${RETENTION_BYTES}`, 'heartbeat_interval_ms = 100', 'min_insync = 1', 'snapshot_chunk_bytes = 1024'].join('\n');

describe('followers catching up with their leader', () => {
  let cluster: TestCluster | undefined;
  let client: Client | undefined;
  let leader = '';
  let follower = '';
  let late = '';
  after(async () => {
    client?.close();
    await cluster?.close();
  });

  before(async () => {
    // The second replica is in the config from the start, but its node starts only in the last test.
    cluster = await startCluster({ shards: 1, replicas: 2, controllers: 1, controlToml: CONTROL_TOML_STEADY, replicationToml: REPLICATION, deferred: (s) => [s.replicas[1]!] });
    leader = cluster.shards[0]!.leader;
    [follower, late] = cluster.shards[0]!.replicas as [string, string];
    await waitInSync(leader, 1);
    client = await Client.connect([leader]);
    await writeRange(client, 'a', 0, 300, 'first');
    await waitCaughtUp(follower, leader);
  });

  it('resumes the log from its own position after a SIGKILL', async () => {
    const before = await nodeView(follower);
    await cluster!.nodes.get(follower)!.kill();
    // 200 small writes: well inside the retention window.
    await writeRange(client!, 'a', 300, 500, 'second');
    await cluster!.start(follower);
    await waitCaughtUp(follower, leader);
    const view = await nodeView(follower);
    assert.equal(view.replication.follower?.snapshotsInstalled, 0, 'no snapshot was needed');
    assert.equal(view.lastSequence - before.lastSequence, 200);
    assert.deepEqual(await scanAll(follower), await scanAll(leader));
  });

  it('takes a snapshot when it missed more than the retention window, deletes included', async () => {
    await cluster!.nodes.get(follower)!.kill();
    // 300 values of 1 KiB: about 5 times the window. Some keys it holds are deleted meanwhile.
    await writeRange(client!, 'b', 0, 300, 'x'.repeat(1024));
    for (let i = 0; i < 300; i += 3) await client!.delete(key('a', i));
    await cluster!.start(follower);
    await waitCaughtUp(follower, leader);
    const view = await nodeView(follower);
    assert.equal(view.replication.follower?.snapshotsInstalled, 1);
    const [mine, theirs] = await Promise.all([scanAll(follower), scanAll(leader)]);
    assert.equal(mine.has(key('a', 0)), false, 'a key deleted while the follower was away is gone from it');
    assert.deepEqual(mine, theirs);
  });

  it('starts a snapshot install over after a SIGKILL in the middle of it', async () => {
    const installing = async () => {
      const text = await readFile(path.join(cluster!.dataDir(follower), 'node-state.json'), 'utf8');
      return (JSON.parse(text) as { state: { installing: boolean } }).state.installing;
    };
    // The kill must land between the install's mark reaching the disk and its end, about a
    // second later. Should it land just after the end, the follower has caught up, and the
    // test makes it miss the window again and tries once more.
    let interrupted = false;
    for (let attempt = 0; attempt < 3 && !interrupted; attempt++) {
      await cluster!.nodes.get(follower)!.kill();
      const value = 'y'.repeat(1024);
      for (let b = 0; b < 80; b++) await client!.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: key(`big${attempt}-${b}`, i), value })));
      // Not `start`: a follower installing a snapshot is not ready, and the kill must land before it is.
      cluster!.launch(follower);
      await waitFor('the follower installing its snapshot', installing);
      await cluster!.nodes.get(follower)!.kill();
      interrupted = await installing();
    }
    assert.ok(interrupted, 'the install was cut short and that is on record');
    const node = await cluster!.start(follower);
    assert.match(node.stderr, /interrupted snapshot install left partial data/);
    await waitCaughtUp(follower, leader);
    assert.deepEqual(await scanAll(follower), await scanAll(leader));
  });

  it('fills a new, empty replica', async () => {
    await cluster!.start(late);
    await waitCaughtUp(late, leader);
    await writeRange(client!, 'c', 0, 50, 'after');
    await waitCaughtUp(late, leader);
    assert.deepEqual(await scanAll(late), await scanAll(leader));
    await waitInSync(leader, 2);
  });
});

function key(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(5, '0')}`;
}

async function writeRange(client: Client, prefix: string, from: number, to: number, value: string): Promise<void> {
  for (let i = from; i < to; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, to - i) }, (_, j) => client.put(key(prefix, i + j), `${value}-${i + j}`)));
  }
}
