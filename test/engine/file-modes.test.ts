/**
 * The engine's files are its owner's alone: directories it creates are 0700 and every file
 * (WAL, SSTables, MANIFEST, CURRENT, LOCK, temporaries) 0600, whatever the umask.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Db } from '../../engine/index.ts';
import { tempDir } from '../helpers/child.ts';

function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) out[name.replace(/\d{6}/, 'N')] = (statSync(join(dir, name)).mode & 0o777).toString(8);
  return out;
}

for (const umask of [0o022, 0o000]) {
  test(`with umask ${umask.toString(8).padStart(3, '0')} the engine's directories are 0700 and its files 0600 after open, flush and compaction`, async (t) => {
    const root = tempDir('modes');
    t.after(() => root.remove());
    const previous = process.umask(umask);
    t.after(() => process.umask(previous));
    const dir = join(root.path, 'nested', 'db');
    const db = await Db.open(dir, { memtableBytes: 4096, l0CompactionTrigger: 2 });
    const seen = new Set<string>();
    const check = (when: string) => {
      for (const [name, mode] of Object.entries(modes(dir))) {
        seen.add(name.replace(/\.(sst|wal)$/, '.$1'));
        assert.equal(mode, '600', `${name} after ${when}`);
      }
    };
    check('open');
    for (let i = 0; i < 2000; i++) await db.put(`key-${i % 500}`, `value-${i}-${'x'.repeat(40)}`);
    check('flushes');
    await db.compactRange();
    assert.ok(db.stats().compactions + db.stats().threadCompactions > 0, 'a compaction ran');
    check('compaction');
    await db.close();
    for (const created of [join(root.path, 'nested'), dir]) {
      assert.equal((statSync(created).mode & 0o777).toString(8), '700', created);
    }
    for (const kind of ['LOCK', 'CURRENT', 'N.wal', 'N.sst']) assert.ok(seen.has(kind), `saw no ${kind} file: ${[...seen].join(', ')}`);
    assert.ok([...seen].some((n) => n.startsWith('MANIFEST-')), 'saw a MANIFEST');
  });
}
