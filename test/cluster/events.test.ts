/**
 * A node's recent events (cluster/events.ts): bounded rings, ids to read from, metadata changes
 * turned into events once a baseline is known, and log lines recorded whatever the log's level.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyCommand, EMPTY_METADATA, type Command, type Metadata } from '../../cluster/control/metadata.ts';
import { EventLog, recordingLog } from '../../cluster/events.ts';
import type { Log, LogLevel } from '../../cluster/log.ts';

function apply(metadata: Metadata, command: Command): Metadata {
  const result = applyCommand(metadata, command);
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result.metadata;
}

describe('the event log', () => {
  it('keeps at most its capacity per ring, dropping the oldest, so log lines never push out the cluster\'s changes', () => {
    const events = new EventLog(() => 0, 3);
    let metadata = apply(EMPTY_METADATA, { type: 'bootstrap', vnodes: 16, shards: [{ name: 's0', members: ['a', 'b'] }] });
    events.observeMetadata(metadata);
    metadata = apply(metadata, { type: 'elect', shard: 's0', leader: 'b', expectTerm: 1, inSync: ['b'] });
    events.observeMetadata(metadata);
    for (let i = 0; i < 10; i++) events.recordLine('warn', `line ${i}`, undefined);
    const all = events.list();
    assert.deepEqual(all.filter((e) => e.source === 'node').map((e) => e.message), ['line 7', 'line 8', 'line 9']);
    assert.deepEqual(all.filter((e) => e.source === 'cluster').map((e) => e.kind), ['election']);
  });

  it('takes the first metadata it sees as the baseline and ignores versions it already saw', () => {
    const events = new EventLog(() => 0);
    const first = apply(EMPTY_METADATA, { type: 'bootstrap', vnodes: 16, shards: [{ name: 's0', members: ['a', 'b'] }] });
    events.observeMetadata(first);
    assert.deepEqual(events.list(), []);
    const second = apply(first, { type: 'set-in-sync', shard: 's0', term: 1, inSync: ['a'] });
    events.observeMetadata(second);
    events.observeMetadata(first);
    events.observeMetadata(second);
    assert.deepEqual(events.list().map((e) => e.message), ['s0: b fell behind and left the in-sync set']);
  });

  it('lists only what came after a given id, oldest first', () => {
    let now = 100;
    const events = new EventLog(() => now++);
    for (const message of ['one', 'two', 'three']) events.recordLine('info', message, undefined);
    const [first] = events.list();
    assert.deepEqual(events.list(first!.id).map((e) => [e.message, e.timeMs]), [['two', 101], ['three', 102]]);
  });
});

describe('the recording log', () => {
  it('records info, warn and error lines even when the log it writes to is quieter, without stacks', () => {
    const written: [LogLevel, string][] = [];
    const inner: Log = (level, message) => written.push([level, message]);
    inner.enabled = (level) => level === 'error';
    const events = new EventLog(() => 0);
    const log = recordingLog(inner, events);
    log('debug', 'detail', { a: 1 });
    log('info', 'leading the shard', { shard: 's0', stack: 'Error: at somewhere' });
    log('error', 'failed', { error: 'x'.repeat(5000) });
    assert.equal(log.enabled?.('info'), true);
    assert.equal(log.enabled?.('debug'), false);
    assert.deepEqual(written.map(([level]) => level), ['debug', 'info', 'error']);
    const [info, error] = events.list();
    assert.deepEqual([info!.kind, info!.message, info!.fields], ['info', 'leading the shard', { shard: 's0' }]);
    assert.ok(String(error!.fields['clipped']).length <= 1_001, 'a long field is clipped');
  });
});
