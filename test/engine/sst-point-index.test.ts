import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { encodeInternalKey, KIND_SEEK, SEQ_MAX, ValueKind } from '../../engine/internal-key.ts';
import { CorruptionError } from '../../engine/errors.ts';
import { BlockCache } from '../../engine/sst/block-cache.ts';
import { PointIndex } from '../../engine/sst/point-index.ts';
import { buildTable, randomBytes, randomEntries, sortEntries, utf8, type Entry } from './sst-fixtures.ts';

/** Keys that share a long prefix, as the benchmark's zero-padded decimals do. */
function paddedEntries(count: number): Entry[] {
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) entries.push({ userKey: utf8(String(5000 + i * 3).padStart(16, '0')), seq: i + 1, kind: ValueKind.Put, value: new Uint8Array(40) });
  return sortEntries(entries);
}

/** Asserts that lowerBound agrees with a seek in the index block for every target. */
function agreesWithIndexSeek(entries: Entry[], targets: Uint8Array[]): void {
  const reader = buildTable(entries, { blockBytes: 512 }).open();
  const index = PointIndex.decode(reader.index, reader.path);
  assert.ok(index.count > 20, 'the table has many data blocks');
  const it = reader.index.iterator();
  for (const target of targets) {
    it.seek(target, target.length);
    const i = index.lowerBound(target, target.length);
    if (!it.valid()) {
      assert.equal(i, index.count, 'past the last separator in both');
      continue;
    }
    assert.ok(i < index.count);
    assert.deepEqual(index.handle(i, { offset: 0, size: 0 }), reader.handleAt(it, { offset: 0, size: 0 }));
  }
}

test('the point index finds the same data block as a seek in the index block, for present and absent keys', () => {
  const entries = randomEntries(2000, 51, { valueBytesMax: 200 });
  const random = seededRandom(52);
  const absent = Array.from({ length: 500 }, () => randomBytes(random, 1 + Math.floor(random() * 12), 26));
  agreesWithIndexSeek(entries, [...entries.map((e) => e.userKey), ...absent].map((k) => encodeInternalKey(k, Math.floor(random() * 3000), KIND_SEEK)));
});

test('the point index agrees with the index block when every separator shares a prefix, and for targets outside it', () => {
  const entries = paddedEntries(600);
  const keys = [...entries.map((e) => e.userKey), utf8('0000000000004999'), utf8('0000000000006798'), utf8('00000000000050005'), utf8('000000000000'), utf8('0000000000'), utf8(''), utf8('1'), utf8('0000000000009999'), utf8('00000000000000000000'), utf8('0000000000005\x00\x00\x00'), utf8('1000000000000000'), utf8('0000000000100000'), utf8('000000000/000000'), utf8('00000000000/9999')];
  for (let i = 5000; i < 6900; i += 7) keys.push(utf8(String(i).padStart(16, '0')), utf8(`${String(i).padStart(16, '0')}\x00`), utf8(String(i).padStart(15, '0')));
  agreesWithIndexSeek(entries, keys.flatMap((k) => [encodeInternalKey(k, SEQ_MAX, KIND_SEEK), encodeInternalKey(k, 1, KIND_SEEK)]));
});

for (const cached of [false, true]) {
  test(`a lookup through a block handle whose size runs past the data is a CorruptionError, not an allocation (${cached ? 'with' : 'without'} a block cache)`, () => {
    const entries = randomEntries(200, 53, { valueBytesMax: 50 });
    const reader = buildTable(entries, { blockBytes: 512 }).open(cached ? new BlockCache(1 << 20) : undefined);
    // A handle that passed the index block's checksum but is wrong (a writer's bug, a crafted
    // file): set in the decoded index, which is simpler than forging a table around it.
    (reader as unknown as { pointIndex: { blockSizes: Float64Array } }).pointIndex.blockSizes.fill(2 ** 40);
    assert.throws(() => reader.get(entries[0]!.userKey, SEQ_MAX), CorruptionError);
  });
}
