/**
 * The chaos run's failover timing, pure: which election, role change, probe and
 * acknowledgement belong to which kill, how the unavailability splits into its parts, and the
 * percentiles it is reported with.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Acknowledgement } from '../hosts/acknowledgements.ts';
import { failoverTimings, formatSpread, percentile, spread, type TermEvent } from './failover-timing.ts';

const ack = (id: number, shard: string, node: string, term: number, time: number): Acknowledgement => ({ id, key: `k${id}`, value: `v${id}`, node, shard, term, invokeTime: time - 5, time });
const at = (shard: string, node: string, term: number, time: number): TermEvent => ({ shard, node, term, time });

test('a failover is timed from the kill to the first write of its shard acknowledged at a later term, and split into its parts', () => {
  const kills = [{ shard: 's0', node: 'a', term: 1, time: 1000 }];
  const elections = [at('s0', 'b', 2, 2700), at('s1', 'x', 2, 1500)];
  const leading = [at('s0', 'b', 2, 2750), at('s0', 'a', 1, 10)];
  const ready = [at('s0', 'b', 2, 2900)];
  const acks = [ack(0, 's0', 'a', 1, 990), ack(1, 's1', 'x', 2, 1200), ack(2, 's0', 'a', 1, 1100), ack(3, 's0', 'b', 2, 3000), ack(4, 's0', 'b', 2, 3100)];
  const [f] = failoverTimings(kills, elections, leading, ready, acks);
  assert.equal(f!.elected?.node, 'b');
  assert.equal(f!.firstAck?.id, 3, 'the write acknowledged at term 1 after the kill (sent before it) does not end the failover');
  assert.equal(f!.unavailableMs, 2000);
  assert.deepEqual(f!.parts, { leaseMs: 1700, metadataMs: 50, grantMs: 150, clientsMs: 100 });
});

test('a new leader that acknowledged a write before the probe saw it ready counts as ready then; parts not seen stay undefined', () => {
  const kills = [{ shard: 's0', node: 'a', term: 4, time: 0 }, { shard: 's1', node: 'x', term: 1, time: 100 }];
  const [f0, f1] = failoverTimings(kills, [at('s0', 'b', 5, 1600)], [at('s0', 'b', 5, 1650)], [at('s0', 'b', 5, 2500)], [ack(0, 's0', 'b', 5, 1900)]);
  assert.deepEqual(f0!.parts, { leaseMs: 1600, metadataMs: 50, grantMs: 250, clientsMs: 0 });
  assert.equal(f1!.unavailableMs, undefined, 'no write of s1 was acknowledged after its kill');
  assert.deepEqual(f1!.parts, { leaseMs: undefined, metadataMs: undefined, grantMs: undefined, clientsMs: undefined });
});

test('percentiles are nearest-rank: p99 of 20 values is the largest, p50 the tenth', () => {
  const values = Array.from({ length: 20 }, (_, i) => (i + 1) * 100);
  assert.equal(percentile(values, 50), 1000);
  assert.equal(percentile(values, 99), 2000);
  assert.equal(percentile([], 50), undefined);
  assert.equal(formatSpread(spread([300, undefined, 100, 200])), 'p50 200 ms, p99 300 ms, max 300 ms (n 3)');
  assert.equal(formatSpread(spread([undefined])), 'none');
});
