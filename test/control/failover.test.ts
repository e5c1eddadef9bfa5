/**
 * Automatic failover's pure rules (cluster/control/failover.ts, protocol/control-options.ts):
 * how long the control plane waits after a grant, when a lease has certainly ended (after the
 * last grant, the term's start and the controller's own election), and whom an election picks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseLeader, electCommand, electionCandidates, LeaseBook } from '../../cluster/control/failover.ts';
import type { ShardMeta } from '../../cluster/control/metadata.ts';
import { leaseWaitMs } from '../../protocol/control-options.ts';

const shard: ShardMeta = { name: 's0', members: ['a', 'b', 'c', 'd'], leader: 'a', term: 4, inSync: ['a', 'b', 'c'] };

describe('the lease wait', () => {
  it('outlasts a lease read on a leader clock running slow, measured on a controller clock running fast', () => {
    for (const clockDriftPercent of [0, 1, 5, 20, 50]) {
      const d = clockDriftPercent / 100;
      const wait = leaseWaitMs({ leaseMs: 1500, clockDriftPercent });
      // Real time the lease may last, against real time the wait certainly lasts.
      assert.ok(wait / (1 + d) >= 1500 / (1 - d) - 1e-9, `${clockDriftPercent}%: waits ${wait} ms`);
    }
    assert.equal(leaseWaitMs({ leaseMs: 1500, clockDriftPercent: 5 }), 1658);
    assert.equal(leaseWaitMs({ leaseMs: 1500, clockDriftPercent: 0 }), 1500);
  });

  it('counts from the latest of the controller election, the term start and the last grant', () => {
    const book = new LeaseBook(1000, 100);
    assert.equal(book.remainingMs(shard, 1000), 100, 'a new controller leader waits a whole lease for every shard');
    assert.equal(book.remainingMs(shard, 1100), 0);
    book.observe(shard, 1050);
    assert.equal(book.remainingMs(shard, 1100), 50, 'a term first seen at 1050 gets its own lease time');
    book.granted('s0', 'a', 4, 1200);
    assert.equal(book.remainingMs(shard, 1250), 50);
    assert.equal(book.remainingMs(shard, 1300), 0);
    book.granted('s0', 'a', 3, 5000);
    assert.equal(book.remainingMs(shard, 1300), 0, 'a grant for another term does not count');
    const next = { ...shard, leader: 'b', term: 5 };
    book.observe(next, 1400);
    assert.equal(book.remainingMs(next, 1450), 50, 'a new term starts its clock when first seen');
  });
});

describe('an election', () => {
  it('asks the in-sync members, the old leader included', () => {
    assert.deepEqual(electionCandidates(shard), ['a', 'b', 'c']);
  });

  it('picks the newest data: data term, then sequence number, then the old leader, then the lowest address', () => {
    assert.equal(chooseLeader(shard, [{ node: 'b', dataTerm: 4, lastSequence: 10 }, { node: 'c', dataTerm: 4, lastSequence: 12 }]), 'c');
    assert.equal(chooseLeader(shard, [{ node: 'b', dataTerm: 4, lastSequence: 10 }, { node: 'c', dataTerm: 3, lastSequence: 99 }]), 'b');
    assert.equal(chooseLeader(shard, [{ node: 'a', dataTerm: 4, lastSequence: 12 }, { node: 'c', dataTerm: 4, lastSequence: 12 }]), 'a');
    assert.equal(chooseLeader(shard, [{ node: 'c', dataTerm: 4, lastSequence: 12 }, { node: 'b', dataTerm: 4, lastSequence: 12 }]), 'b');
    assert.equal(chooseLeader(shard, [{ node: 'd', dataTerm: 4, lastSequence: 99 }]), undefined, 'd is not in sync: never elected cleanly');
    assert.equal(chooseLeader(shard, []), undefined);
  });

  it('keeps the rest of the in-sync set, without the old leader unless it hands over', () => {
    assert.deepEqual(electCommand(shard, 'c'), { type: 'elect', shard: 's0', leader: 'c', expectTerm: 4, inSync: ['c', 'b'] });
    assert.deepEqual(electCommand(shard, 'c', true).inSync, ['c', 'a', 'b']);
  });
});
