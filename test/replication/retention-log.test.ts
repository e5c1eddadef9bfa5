/**
 * The leader's retention log (cluster/replication/retention-log.ts): it finds the batch
 * holding any retained sequence number, drops the oldest past its byte and batch limits, keeps
 * what a snapshot transfer pinned (up to the overshoot bound), and refuses a batch that does not
 * follow on. Pure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetentionLog } from '../../cluster/index.ts';
import { PIN_OVERSHOOT } from '../../cluster/replication/retention-log.ts';

/** Appends groups of the given sizes (ops per group), each `bytes` long, at times 0, 1, 2, … */
function fill(log: RetentionLog, sizes: number[], bytes = 10): void {
  sizes.forEach((n, i) => log.append(log.lastSeq + 1, log.lastSeq + n, new Uint8Array(bytes), i));
}

describe('RetentionLog', () => {
  it('finds the batch holding each retained sequence number', () => {
    const log = new RetentionLog(100, 1 << 20, 1000);
    assert.equal(log.servableFrom, 101, 'an empty log serves only the next sequence number');
    fill(log, [1, 3, 2, 5]);
    assert.equal(log.lastSeq, 111);
    const owners = Array.from({ length: 11 }, (_, i) => log.entryFor(101 + i)!.first);
    assert.deepEqual(owners, [101, 102, 102, 102, 105, 105, 107, 107, 107, 107, 107]);
    assert.equal(log.entryFor(100), undefined);
    assert.equal(log.entryFor(112), undefined);
    assert.equal(log.committedMsOf(106), 2);
  });

  it('drops the oldest batches past its byte limit and its batch limit', () => {
    const bytes = new RetentionLog(0, 35, 1000);
    fill(bytes, [1, 1, 1, 1, 1]);
    assert.deepEqual([bytes.servableFrom, bytes.size, bytes.bytes], [3, 3, 30]);
    const count = new RetentionLog(0, 1 << 20, 2);
    fill(count, [2, 2, 2]);
    assert.deepEqual([count.servableFrom, count.size], [3, 2]);
    // Thousands of evictions compact the backing array without losing the order.
    const many = new RetentionLog(0, 100, 1_000_000);
    fill(many, Array.from({ length: 5000 }, () => 1));
    assert.deepEqual([many.servableFrom, many.size, many.entryFor(4995)!.first], [4991, 10, 4995]);
  });

  it('keeps pinned batches past the byte limit, but not past the overshoot bound', () => {
    const log = new RetentionLog(0, 30, 1000);
    fill(log, [1, 1, 1]);
    const release = log.pin(2);
    fill(log, [1, 1, 1]);
    assert.equal(log.servableFrom, 2, 'batch 1 goes; 2 on are pinned');
    fill(log, Array.from({ length: 30 * PIN_OVERSHOOT / 10 }, () => 1));
    assert.ok(log.bytes <= 30 * PIN_OVERSHOOT, `held ${log.bytes} bytes`);
    assert.ok(log.servableFrom > 2, 'past the bound the pin gives way');
    release();
    release();
    assert.equal(log.bytes, 30, 'released, the log shrinks back to its limit');
  });

  it('refuses a batch that does not follow the last one', () => {
    const log = new RetentionLog(10, 1 << 20, 1000);
    assert.throws(() => log.append(12, 12, new Uint8Array(1), 0), /does not follow 10/);
    assert.throws(() => log.append(11, 10, new Uint8Array(1), 0), /does not follow/);
    log.append(11, 11, new Uint8Array(1), 0);
    assert.throws(() => log.append(11, 11, new Uint8Array(1), 0), /does not follow 11/);
  });
});
