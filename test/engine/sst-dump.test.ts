import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NodeFileSystem } from '../../engine/fs/node-file-system.ts';
import { ValueKind } from '../../engine/internal-key.ts';
import { TableBuilder } from '../../engine/sst/table-builder.ts';
import { keyText } from '../../engine/tools/sst-dump.ts';
import { utf8 } from './sst-fixtures.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'distribkv-sst-dump-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeTable(path: string): void {
  const file = new NodeFileSystem().createWritable(path);
  const builder = new TableBuilder(file, { blockBytes: 256 });
  for (let i = 0; i < 100; i++) {
    builder.add(utf8(`user:${String(i).padStart(4, '0')}`), 1000 - i, i % 10 === 0 ? ValueKind.Delete : ValueKind.Put, utf8(`value ${i}`));
  }
  builder.add(Uint8Array.of(0xfe, 0x00, 0x01), 5, ValueKind.Put, utf8('binary key'));
  builder.addRangeTombstone(utf8('user:0050'), utf8('user:0060'), 2000);
  builder.addRangeTombstone(Uint8Array.of(0xfe, 0x00, 0x02), Uint8Array.of(0xff), 2001);
  builder.finish();
  file.close();
}

function sstDump(...args: string[]): { status: number | null; stdout: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'engine/tools/sst-dump.ts', ...args], { cwd: root, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout + run.stderr };
}

test('sst-dump --verify exits 0 on a good table and prints its parts', () => {
  const path = join(dir, '000042.sst');
  writeTable(path);
  const { status, stdout } = sstDump('--verify', '--keys', path);
  assert.equal(status, 0, stdout);
  assert.match(stdout, /format version 2/);
  assert.match(stdout, /entries 101, tombstones 10, range tombstones 2/);
  assert.match(stdout, /range tombstones: 2\n  \["user:0050", "user:0060"\) @2000 range delete\n  \[0xfe0002, 0xff\) @2001 range delete/);
  assert.match(stdout, /largest  0xff \(exclusive: a range tombstone's end\)/);
  assert.match(stdout, /range deletion block offset \d+ size \d+: checksum ok/);
  assert.match(stdout, /filter: \d+ bytes, k 7/);
  assert.match(stdout, /"user:0003" @997 put value 7 bytes/);
  assert.match(stdout, /0xfe0001 @5 put value 10 bytes/);
  assert.match(stdout, /verify: ok/);
});

test('sst-dump --verify exits 3 on a corrupted table, naming the block and the file', () => {
  const path = join(dir, '000043.sst');
  writeTable(path);
  const bytes = readFileSync(path);
  bytes[300]! ^= 0x20;
  writeFileSync(path, bytes);
  const { status, stdout } = sstDump('--verify', path);
  assert.equal(status, 3, stdout);
  assert.match(stdout, /checksum mismatch in data block at offset \d+/);
  assert.ok(stdout.includes(JSON.stringify(path)), stdout);
});

test('sst-dump exits 3 on a truncated table and 2 on bad usage', () => {
  const path = join(dir, '000044.sst');
  writeTable(path);
  writeFileSync(path, readFileSync(path).subarray(0, 500));
  const truncated = sstDump('--verify', path);
  assert.equal(truncated.status, 3, truncated.stdout);
  assert.match(truncated.stdout, /bad magic number/);
  assert.equal(sstDump('--frobnicate', path).status, 2);
});

test('keys print as UTF-8 when printable and as hex otherwise', () => {
  assert.equal(keyText(utf8('héllo')), '"héllo"');
  assert.equal(keyText(Uint8Array.of(0x61, 0x0a)), '0x610a');
  assert.equal(keyText(Uint8Array.of(0xff)), '0xff');
});
