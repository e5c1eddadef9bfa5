import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ValueKind } from '../../engine/internal-key.ts';
import { Memtable } from '../../engine/memtable/memtable.ts';
import { encodeBatch, walkBatch } from '../../engine/write-batch.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ENTRIES = 20_000;
const MEMTABLES = 8;

/** Batches of 1,000 puts of 16-byte keys and 100-byte values, as the engine benchmark writes. */
function records(): Uint8Array[] {
  const value = new Uint8Array(100).fill(7);
  const out: Uint8Array[] = [];
  for (let b = 0; b < ENTRIES / 1000; b++) {
    const ops = Array.from({ length: 1000 }, (_, j) => ({ kind: ValueKind.Put, key: new TextEncoder().encode(String(((b * 1000 + j) * 7919) % 1_000_003).padStart(16, '0')), value }));
    out.push(encodeBatch(b * 1000 + 1, ops));
  }
  return out;
}

function fill(mem: Memtable, batches: readonly Uint8Array[]): void {
  for (const record of batches) walkBatch(record, 'test', (seq, kind, keyAt, keyLength, valueAt, valueLength) => mem.addFrom(record, keyAt, keyLength, seq, kind, record, valueAt, valueLength));
}

test("a memtable sized like the last one accounts within 10% of the memory it holds (its skiplist and its batches' records)", () => {
  const shared = records();
  const recordBytes = shared.reduce((sum, r) => sum + r.length, 0);
  gc();
  gc();
  const before = process.memoryUsage();
  const kept: Memtable[] = [];
  for (let m = 0; m < MEMTABLES; m++) {
    const mem = new Memtable(m + 1, ENTRIES);
    fill(mem, shared);
    kept.push(mem);
  }
  gc();
  gc();
  const after = process.memoryUsage();
  // Every memtable here shares one set of records; in the engine each has its own.
  const held = (after.heapUsed - before.heapUsed + after.arrayBuffers - before.arrayBuffers) / MEMTABLES + recordBytes;
  const accounted = kept[0]!.bytes;
  assert.ok(Math.abs(accounted - held) / held < 0.1, `accounted ${accounted} bytes, holds ${Math.round(held)}`);
});
