/**
 * NodeMetrics without a node: fed fake engine and replication figures, it renders valid
 * Prometheus text with bounded labels, and the derived figures mean what the docs say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { methodLabel, NodeMetrics, unreplicatedOps, type EngineStats } from '../../cluster/metrics.ts';
import { ROUTES } from '../../cluster/routes.ts';
import type { ReplicationFigures } from '../../cluster/replication/controller.ts';
import type { FollowerStatus } from '../../cluster/replication/follower-tracker.ts';
import { find, parseExposition } from './prometheus-text.ts';

function follower(node: string, applied: number, extra: Partial<FollowerStatus> = {}): FollowerStatus {
  return { node, connected: true, applied, lagSeq: 0, lagMs: 0, keepingUp: true, inSync: true, checkpoint: undefined, ...extra };
}

function engineStats(): EngineStats {
  const stats = {
    lastSequence: 42, levels: [{ level: 0, files: 2, bytes: 4096 }, { level: 1, files: 1, bytes: 8192 }],
    memtableBytes: 100, writeAmplification: 2.5, blockCacheHitRate: 0.75, stallMs: 1500, slowdowns: 3, stops: 1,
    flushes: 4, compactions: 2, userBytesWritten: 1000, blockCacheHits: 3, blockCacheMisses: 1,
  };
  return stats as unknown as EngineStats;
}

function metricsWith(replication: ReplicationFigures, role = 'leader'): NodeMetrics {
  return new NodeMetrics({
    node: () => ({ address: '127.0.0.1:7001', shard: 'shard-0', role }),
    engine: engineStats,
    replication: () => replication,
  }, { processMetrics: false });
}

describe('NodeMetrics', () => {
  it('renders request histograms by method, route template and status, and engine and replication figures', async () => {
    const metrics = metricsWith({
      role: 'leader', term: 3, metadataVersion: 9,
      leader: { lastSeq: 42, waitingWrites: 1, leaseValid: true, followers: [follower('127.0.0.1:7101', 40, { lagSeq: 2, lagMs: 12 }), follower('127.0.0.1:7102', 0, { connected: false, keepingUp: false, inSync: false, lagSeq: 42, lagMs: Infinity })] },
    });
    metrics.observeRequest('GET', ROUTES.get.path, 200, 0.0004);
    metrics.observeRequest('GET', ROUTES.get.path, 200, 0.003);
    metrics.observeRequest('PUT', ROUTES.put.path, 204, 0.002);
    const text = parseExposition(await metrics.render());

    assert.equal(text.types.get('distribkv_http_request_duration_seconds'), 'histogram');
    const gets = find(text, 'distribkv_http_request_duration_seconds_count', { method: 'GET', route: '/kv/{key}', status: '200' });
    assert.deepEqual(gets.map((s) => s.value), [2]);
    assert.equal(find(text, 'distribkv_http_request_duration_seconds_bucket', { method: 'GET', le: '0.0005' })[0]!.value, 1);
    assert.equal(find(text, 'distribkv_engine_level_files', { level: '1' })[0]!.value, 1);
    assert.equal(find(text, 'distribkv_engine_level_bytes', { level: '0' })[0]!.value, 4096);
    assert.equal(find(text, 'distribkv_engine_stall_seconds_total')[0]!.value, 1.5);
    assert.equal(find(text, 'distribkv_engine_block_cache_hit_ratio')[0]!.value, 0.75);
    assert.equal(find(text, 'distribkv_engine_write_amplification')[0]!.value, 2.5);
    assert.equal(find(text, 'distribkv_shard_term')[0]!.value, 3);
    assert.equal(find(text, 'distribkv_metadata_version')[0]!.value, 9);
    assert.equal(find(text, 'distribkv_leader_lease_valid')[0]!.value, 1);
    assert.equal(find(text, 'distribkv_replication_follower_lag_sequence_numbers', { follower: '127.0.0.1:7101' })[0]!.value, 2);
    assert.equal(find(text, 'distribkv_replication_follower_lag_milliseconds', { follower: '127.0.0.1:7101' })[0]!.value, 12);
    assert.equal(find(text, 'distribkv_replication_follower_lag_milliseconds', { follower: '127.0.0.1:7102' })[0]!.value, Infinity);
    assert.equal(find(text, 'distribkv_replication_follower_in_sync', { follower: '127.0.0.1:7102' })[0]!.value, 0);
    assert.equal(find(text, 'distribkv_replication_follower_keeping_up', { follower: '127.0.0.1:7102' })[0]!.value, 0);
    assert.equal(find(text, 'distribkv_replication_unreplicated_ops')[0]!.value, 2);
    assert.equal(find(text, 'distribkv_replication_waiting_writes')[0]!.value, 1);
    assert.deepEqual(find(text, 'distribkv_node_info')[0]!.labels, { node: '127.0.0.1:7001', shard: 'shard-0', role: 'leader' });
    assert.equal(find(text, 'distribkv_replication_applied_sequence').length, 0, 'a leader follows no one');
  });

  it('shows a replica its position under its leader, and no follower series', async () => {
    const metrics = metricsWith({ role: 'replica', term: 1, metadataVersion: 2, follower: { leader: '127.0.0.1:7001', applied: 40, leaderSeq: 42, connected: true } }, 'replica');
    const text = parseExposition(await metrics.render());
    assert.equal(find(text, 'distribkv_replication_applied_sequence', { leader: '127.0.0.1:7001' })[0]!.value, 40);
    assert.equal(find(text, 'distribkv_replication_leader_sequence', { leader: '127.0.0.1:7001' })[0]!.value, 42);
    assert.equal(find(text, 'distribkv_replication_follower_lag_sequence_numbers').length, 0);
  });

  it('drops followers that are gone from one scrape to the next', async () => {
    let followers = [follower('a:1', 1), follower('b:1', 1)];
    const metrics = new NodeMetrics({
      node: () => ({ address: 'x:1', shard: 's', role: 'leader' }),
      engine: engineStats,
      replication: () => ({ role: 'leader', term: 1, metadataVersion: 2, leader: { lastSeq: 1, waitingWrites: 0, leaseValid: true, followers } }),
    }, { processMetrics: false });
    assert.equal(find(parseExposition(await metrics.render()), 'distribkv_replication_follower_connected').length, 2);
    followers = [follower('b:1', 1)];
    assert.deepEqual(find(parseExposition(await metrics.render()), 'distribkv_replication_follower_connected').map((s) => s.labels.follower), ['b:1']);
  });

  it('labels a method HTTP does not define as OTHER, so clients cannot grow the label set', () => {
    assert.equal(methodLabel('GET'), 'GET');
    assert.equal(methodLabel('BREW'), 'OTHER');
    assert.equal(methodLabel(undefined), 'OTHER');
  });

  it('counts as unreplicated the ops past the furthest follower, or every op when none has any', () => {
    assert.equal(unreplicatedOps(100, [follower('a:1', 90), follower('b:1', 97)]), 3);
    assert.equal(unreplicatedOps(100, []), 100);
    assert.equal(unreplicatedOps(100, [follower('a:1', 100)]), 0);
  });
});
