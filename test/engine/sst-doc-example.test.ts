import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueKind } from '../../engine/internal-key.ts';
import { verifyTable } from '../../engine/sst/table-verify.ts';
import { buildTable, hex, utf8 } from './sst-fixtures.ts';
import { exampleHexInDoc } from '../helpers/doc-example.ts';

const docPath = new URL('../../docs/formats/sstable.md', import.meta.url);

const exampleBytesInDoc = () => exampleHexInDoc(docPath, 'sstable-example');

test('the worked example in docs/formats/sstable.md is the bytes the builder writes', () => {
  const built = buildTable(
    [
      { userKey: utf8('ab'), seq: 1, kind: ValueKind.Put, value: utf8('x') },
      { userKey: utf8('ac'), seq: 2, kind: ValueKind.Put, value: utf8('yz') },
      { userKey: utf8('b'), seq: 3, kind: ValueKind.Delete, value: new Uint8Array(0) },
    ],
    { blockBytes: 4096, bloomBitsPerKey: 10 },
    '/db/000007.sst',
    [{ start: utf8('c'), end: utf8('e'), seq: 4 }],
  );
  const actual = hex(built.fs.peek(built.path));
  assert.equal(actual.length / 2, 346);
  assert.equal(exampleBytesInDoc(), actual);
  const reader = built.open();
  assert.deepEqual(reader.get(utf8('ac'), 5)?.value, utf8('yz'));
  assert.equal(reader.rangeTombstoneSeq(utf8('d'), 5), 4, 'the tombstone [c, e) @4 covers d at seq 5');
  assert.equal(reader.rangeTombstoneSeq(utf8('d'), 3), 0, 'but not at seq 3');
  assert.equal(reader.rangeTombstoneSeq(utf8('e'), 5), 0, 'its end is exclusive');
  assert.equal(verifyTable(reader).ok, true);
});
