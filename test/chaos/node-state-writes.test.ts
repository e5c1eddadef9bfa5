/**
 * Two saves of a node's state at once (bugs-ctests2.md #2, fixed). A node saves
 * `<data>/node-state.json` from two places that do not wait for each other: a role change
 * (ReplicationController.adopt, under its `serial` chain) and the follower's persist work
 * (FollowerReplication's queue: dataTerm, the install mark), both through `saveMeta` ->
 * `writeNodeMeta`, which always writes the same temporary file and renames it. Seen in a
 * rolling-restart run on a busy machine: "could not take the role the metadata gives … rename
 * to node-state.json of node-state.json.tmp failed (ENOENT)" (the node then stays in its old
 * role), and "replication work failed {work: persist …ENOENT}" (the stream is dropped).
 *
 * The smallest reproduction, on the real file system: two writeNodeMeta calls at once. Before
 * the fix the second failed with ENOENT, and the first "succeeded" having renamed the second's
 * bytes into place, so what the first caller then holds in memory is not what is on disk. Asserted: both
 * saves succeed and the file holds one of the two states whole, the one saved last.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { readNodeMeta, writeNodeMeta, type NodeMeta } from '../../cluster/replication/node-meta.ts';
import { NodeFileSystem } from '../../engine/index.ts';
import { tempDir } from '../helpers/child.ts';

const dir = tempDir('node-state-writes');
after(() => dir.remove());

test('two saves of the node state at once both succeed, and the file holds the one saved last', async () => {
  const fs = new NodeFileSystem();
  const base: NodeMeta = { address: '127.0.0.1:7001', shard: 'shard-0', history: [], dataTerm: 1, installing: false, metadata: null };
  const first = { ...base, dataTerm: 2 };
  const second = { ...base, dataTerm: 3, installing: true };
  const results = await Promise.allSettled([writeNodeMeta(fs, dir.path, first), writeNodeMeta(fs, dir.path, second)]);
  assert.deepEqual(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'saved')), ['saved', 'saved']);
  assert.deepEqual(readNodeMeta(fs, dir.path), second);
});
