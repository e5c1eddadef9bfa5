/**
 * Placement during a migration (protocol/placement.ts): a key moves only from its owner on the
 * old ring to its owner on the new one, its owner switches exactly when its move is done, every
 * key has exactly one owner at every step, and adding a shard moves about 1/(n+1) of the keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { moveFilter, Placement, Ring, type MoveState } from '../../protocol/index.ts';

const OLD = ['s0', 's1', 's2'];
const NEW = ['s0', 's1', 's2', 's3'];
const keys = Array.from({ length: 20_000 }, (_, i) => new TextEncoder().encode(`user:${i}`));

function placement(states: Record<string, MoveState>): Placement {
  const moves = OLD.map((giver) => ({ giver, receiver: 's3', state: states[giver] ?? 'copy' }));
  return new Placement(Ring.build(OLD, 64), Ring.build(NEW, 64), moves);
}

describe('placement during a migration', () => {
  it('keeps every key with its old owner until its move is done, then gives it to the new one', () => {
    const before = Placement.of(OLD, 64);
    const after = Placement.of(NEW, 64);
    const halfway = placement({ s0: 'done', s1: 'cutover' });
    let moved = 0;
    for (const key of keys) {
      const was = before.ownerOf(key).shard;
      const will = after.ownerOf(key).shard;
      const now = halfway.ownerOf(key);
      if (was === will) {
        assert.equal(now.shard, was);
        assert.equal(now.move, undefined);
        continue;
      }
      moved++;
      assert.equal(will, 's3', 'adding a shard moves keys only onto it');
      assert.equal(now.move?.giver, was);
      assert.equal(now.shard, was === 's0' ? 's3' : was, `${was}'s move is ${now.move?.state}`);
      assert.ok(moveFilter(OLD, NEW, 64, was, 's3')(key), 'the move filter names the same keys');
    }
    const share = moved / keys.length;
    assert.ok(share > 0.2 && share < 0.3, `about a quarter of the keys move, got ${share}`);
  });

  it('gives each key the new ring owner once every move is done', () => {
    const done = placement({ s0: 'done', s1: 'done', s2: 'done' });
    const after = Placement.of(NEW, 64);
    for (const key of keys.slice(0, 2000)) assert.equal(done.ownerOf(key).shard, after.ownerOf(key).shard);
  });
});
