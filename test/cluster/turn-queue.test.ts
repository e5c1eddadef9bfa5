/**
 * TurnQueue: the writes of one event-loop turn start together, in order, in one synchronous
 * run (so the engine's group commit sees them all queued), and one failing start fails only
 * its own write.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Db } from '../../engine/index.ts';
import { TurnQueue } from '../../cluster/turn-queue.ts';
import { tempDir } from '../helpers/child.ts';

describe('TurnQueue', () => {
  it('starts the writes queued in one turn in order, with no microtask between them', async () => {
    const queue = new TurnQueue();
    const events: string[] = [];
    const start = (name: string) => () => {
      events.push(`start ${name}`);
      queueMicrotask(() => events.push(`microtask after ${name}`));
      return Promise.resolve(name);
    };
    const results = Promise.all(['a', 'b', 'c'].map((name) => queue.run(start(name))));
    assert.deepEqual(events, [], 'nothing starts before the turn ends');
    assert.deepEqual(await results, ['a', 'b', 'c']);
    assert.deepEqual(events.slice(0, 3), ['start a', 'start b', 'start c']);
  });

  it('fails only the write whose start throws', async () => {
    const queue = new TurnQueue();
    const ok = queue.run(() => Promise.resolve(1));
    const thrown = queue.run(() => {
      throw new Error('refused at the gate');
    });
    const rejected = queue.run(() => Promise.reject(new Error('engine said no')));
    assert.equal(await ok, 1);
    await assert.rejects(thrown, /refused at the gate/);
    await assert.rejects(rejected, /engine said no/);
  });

  it('starts a write queued while a turn is flushed in the next turn', async () => {
    const queue = new TurnQueue();
    let inner: Promise<string> | undefined;
    const outer = await queue.run(() => {
      inner = queue.run(() => Promise.resolve('next turn'));
      return Promise.resolve('this turn');
    });
    assert.equal(outer, 'this turn');
    assert.equal(await inner, 'next turn');
  });

  it('lets the engine commit a turn of concurrent puts as one group', async () => {
    const dir = tempDir('turn-queue');
    const db = await Db.open(dir.path);
    try {
      const queue = new TurnQueue();
      const before = db.stats().writeGroups;
      const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => queue.run(() => db.put(`key-${i}`, 'value'))));
      assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1), 'each write has its own sequence number, in queue order');
      assert.equal(db.stats().writeGroups - before, 1);
    } finally {
      await db.close();
      dir.remove();
    }
  });
});
