import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NodeFileSystem } from '../../engine/fs/node-file-system.ts';
import { tempDir } from '../helpers/child.ts';

test('removeSoon deletes in the background, drain waits for it, and only real failures count', async (t) => {
  const dir = tempDir('node-fs');
  t.after(() => dir.remove());
  const fs = new NodeFileSystem();
  const files = Array.from({ length: 20 }, (_, i) => join(dir.path, `00000${i}.sst`));
  for (const f of files) writeFileSync(f, new Uint8Array(4096));
  for (const f of files) fs.removeSoon(f);
  fs.removeSoon(join(dir.path, 'never-existed.sst'));
  await fs.drain();
  assert.deepEqual(files.filter((f) => existsSync(f)), []);
  assert.equal(fs.failedRemovals, 0, 'a missing file is not a failure');
  const notAFile = join(dir.path, 'a-directory');
  mkdirSync(notAFile);
  fs.removeSoon(notAFile);
  await fs.drain();
  assert.equal(fs.failedRemovals, 1, 'unlinking a directory fails and is counted');
  assert.ok(existsSync(notAFile));
});

test('readInto fills a caller buffer and stops at the end of the file', (t) => {
  const dir = tempDir('node-fs-read');
  t.after(() => dir.remove());
  const path = join(dir.path, 'f');
  writeFileSync(path, Uint8Array.from({ length: 100 }, (_, i) => i));
  const file = new NodeFileSystem().openReadable(path);
  const out = new Uint8Array(30).fill(0xee);
  assert.equal(file.readInto(10, out), 30);
  assert.deepEqual([out[0], out[29]], [10, 39]);
  assert.equal(file.readInto(90, out), 10, 'fewer at the end');
  assert.deepEqual([out[0], out[9], out[10]], [90, 99, 20], "bytes past what was read are untouched");
  assert.equal(file.readInto(200, out), 0);
  file.close();
});
