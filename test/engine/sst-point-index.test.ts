import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeInternalKey, KIND_SEEK, SEQ_MAX } from '../../engine/internal-key.ts';
import { PointIndex } from '../../engine/sst/point-index.ts';
import { buildTable, randomBytes, randomEntries } from './sst-fixtures.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';

test('the point index finds the same data block as a seek in the index block, for present and absent keys', () => {
  const entries = randomEntries(2000, 51, { valueBytesMax: 200 });
  const reader = buildTable(entries, { blockBytes: 512 }).open();
  const index = PointIndex.decode(reader.index, reader.path);
  assert.ok(index.count > 20, 'the table has many data blocks');
  const random = seededRandom(52);
  const targets = [...entries.map((e) => encodeInternalKey(e.userKey, SEQ_MAX, KIND_SEEK)), ...Array.from({ length: 500 }, () => encodeInternalKey(randomBytes(random, 1 + Math.floor(random() * 12), 26), Math.floor(random() * 5000), KIND_SEEK))];
  const it = reader.index.iterator();
  const handle = { offset: 0, size: 0 };
  for (const target of targets) {
    it.seek(target, target.length);
    const i = index.lowerBound(target, target.length);
    if (!it.valid()) {
      assert.equal(i, index.count, 'past the last separator in both');
      continue;
    }
    assert.ok(i < index.count);
    assert.deepEqual(index.handle(i, handle), reader.handleAt(it, { offset: 0, size: 0 }));
  }
});
