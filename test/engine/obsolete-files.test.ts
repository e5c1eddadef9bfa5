import assert from 'node:assert/strict';
import { test } from 'node:test';
import { obsoleteFiles } from '../../engine/version/obsolete-files.ts';

test('obsolete files are unreferenced tables, WALs before logNumber, old MANIFESTs and temporaries', () => {
  const names = [
    'CURRENT', 'CURRENT.tmp', 'LOCK', 'notes.txt',
    'MANIFEST-000003', 'MANIFEST-000009',
    '000004.wal', '000007.wal', '000010.wal', '000012.wal',
    '000005.sst', '000006.sst', '000008.sst', '000011.sst',
    'junk.tmp',
  ];
  const live = { tables: new Set([6, 11]), wals: new Set([7, 12]), logNumber: 10, manifestNumber: 9 };
  assert.deepEqual(obsoleteFiles(names, live), [
    { name: 'MANIFEST-000003' },
    { name: '000004.wal' },
    { name: '000005.sst', tableNumber: 5 },
    { name: '000008.sst', tableNumber: 8 },
    { name: 'junk.tmp' },
  ]);
});
