/**
 * Tables written before range deletions (format version 1: no range deletion block, a 52-byte
 * footer) still open, read and verify. The bytes are the worked example docs/formats/sstable.md
 * showed for version 1: put ab=x @1, put ac=yz @2, delete b @3.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryFileSystem } from '../../engine/fs/memory-file-system.ts';
import { ValueKind } from '../../engine/internal-key.ts';
import { TableReader } from '../../engine/sst/table-reader.ts';
import { verifyTable } from '../../engine/sst/table-verify.ts';
import { runSstDump } from '../../engine/tools/sst-dump.ts';
import { utf8 } from './sst-fixtures.ts';

const V1_TABLE = [
  '000a016162010100000000000078010902630102000000000000797a0009006200030000',
  '0000000000000000010000002ccf19d55221e8d0000b178407bfa79969de000ba7656e74',
  '7269657303aa746f6d6273746f6e657301a67365714d696e01a67365714d617803ab7261',
  '774b657942797465731dad72617756616c7565427974657303aa64617461426c6f636b73',
  '01ab66696c746572427974657309aa696e646578427974657316a8736d616c6c657374c4',
  '0a61620101000000000000a76c617267657374c4096200030000000000000b5cab8b0009',
  '026301ffffffffffff1f003000000000010000004d2ea4ba340000000000000009000000',
  '410000000000000091000000d60000000000000016000000010000007d862ac789646b76',
  '7373740a',
].join('');

function v1Table(): { fs: MemoryFileSystem; reader: TableReader } {
  const fs = new MemoryFileSystem();
  fs.mkdirp('/db');
  fs.poke('/db/000007.sst', Uint8Array.from(Buffer.from(V1_TABLE, 'hex')));
  return { fs, reader: TableReader.open(fs.openReadable('/db/000007.sst'), 7) };
}

test('a version 1 table opens and answers lookups and scans as it always did', () => {
  assert.equal(V1_TABLE.length / 2, 292);
  const { reader } = v1Table();
  assert.equal(reader.footer.formatVersion, 1);
  assert.equal(reader.properties.rangeTombstones, 0);
  assert.equal(reader.rangeTombstones.length, 0);
  assert.deepEqual(reader.get(utf8('ac'), 5)?.value, utf8('yz'));
  assert.equal(reader.get(utf8('b'), 5)?.kind, ValueKind.Delete);
  const keys: string[] = [];
  const it = reader.iterator();
  for (it.seekToFirst(); it.valid(); it.next()) keys.push(`${new TextDecoder().decode(it.userKey())}@${it.seq()}`);
  assert.deepEqual(keys, ['ab@1', 'ac@2', 'b@3']);
  assert.equal(verifyTable(reader).ok, true);
});

test('sst-dump reads a version 1 table and flags a flipped byte in it', () => {
  const { fs } = v1Table();
  const lines: string[] = [];
  assert.equal(runSstDump(['--verify', '/db/000007.sst'], fs, (l) => lines.push(l)), 0);
  assert.ok(lines.some((l) => l.includes('format version 1')));
  const bytes = fs.peek('/db/000007.sst');
  bytes[20] = bytes[20]! ^ 1;
  fs.poke('/db/000007.sst', bytes);
  assert.equal(runSstDump(['--verify', '/db/000007.sst'], fs, () => {}), 3);
});
