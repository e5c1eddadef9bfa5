/**
 * Corruption sweep: for each kind of file (WAL, SSTable, MANIFEST, CURRENT), flip bytes at many
 * offsets and truncate at many lengths, then open and read everything. Never a silently wrong
 * read: either a consistent prefix of the writes is recovered (a WAL's tail may be dropped),
 * or the database reports an error with code CORRUPTION naming the damaged file.
 *
 * SWEEP_POINTS sets the number of offsets and lengths tried per file (stress runs raise it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem, type Snapshot } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { TableReader } from '../../engine/sst/table-reader.ts';
import { prefixState, type LoggedWrite } from '../helpers/write-log.ts';

const POINTS = Number(process.env.SWEEP_POINTS ?? 150);
const OPTIONS = { memtableBytes: 8192, blockBytes: 512, tableBytesTarget: 8192, levelOneBytes: 16384, levelSizeMultiplier: 4 };
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function build(): Promise<{ fs: MemoryFileSystem; writes: LoggedWrite[]; flushedSeq: number }> {
  const fs = new MemoryFileSystem();
  const db = await Db.open('/db', { fileSystem: fs, ...OPTIONS });
  const random = seededRandom(31);
  const writes: LoggedWrite[] = [];
  let snapshot: Snapshot | undefined;
  for (let i = 0; i < 1200; i++) {
    if (i === 600) snapshot = db.snapshot();
    const n = Math.floor(random() * 300);
    const key = `key-${String(n).padStart(4, '0')}`;
    if (random() < 0.02) {
      // Range deletes, so tables carry range deletion blocks and the WAL range-delete ops.
      const end = `key-${String(n + 1 + Math.floor(random() * 20)).padStart(4, '0')}`;
      writes.push({ seq: await db.deleteRange({ gte: key, lt: end }), key, value: undefined, end });
      continue;
    }
    const value = random() < 0.1 ? undefined : `v${i}-${'p'.repeat(Math.floor(random() * 60))}`;
    const seq = value === undefined ? await db.delete(key) : await db.put(key, value);
    writes.push({ seq, key, value });
  }
  // A snapshot from before the later range deletes keeps their tombstones in the tables.
  await db.compactRange();
  snapshot!.release();
  const flushedSeq = db.lastSequence;
  // Some writes stay in the WAL only, a range delete among them.
  for (let i = 0; i < 40; i++) {
    const key = `key-${String(i * 7).padStart(4, '0')}`;
    writes.push({ seq: await db.put(key, `wal-only-${i}`), key, value: `wal-only-${i}` });
  }
  writes.push({ seq: await db.deleteRange({ gte: 'key-0100', lt: 'key-0120' }), key: 'key-0100', value: undefined, end: 'key-0120' });
  await db.close();
  return { fs, writes, flushedSeq };
}

type Outcome = { kind: 'prefix'; seq: number } | { kind: 'corruption'; message: string };

/** Opens and reads everything; a wrong read fails the test, CORRUPTION is returned. */
async function openAndCheck(fs: MemoryFileSystem, writes: LoggedWrite[], label: string): Promise<Outcome> {
  let db: Db | undefined;
  try {
    db = await Db.open('/db', { fileSystem: fs, ...OPTIONS });
    const seq = db.lastSequence;
    const expected = prefixState(writes, seq);
    const got = new Map<string, string>();
    for await (const [k, v] of db.iterator()) got.set(dec(k), dec(v));
    assert.deepEqual(got, expected, `${label}: scan is not the prefix up to seq ${seq}`);
    for (const key of new Set(writes.map((w) => w.key))) {
      const value = await db.get(key);
      assert.equal(value === undefined ? undefined : dec(value), expected.get(key), `${label}: get ${key}`);
    }
    const report = await db.verify();
    if (!report.ok) return { kind: 'corruption', message: report.problems.join('; ') };
    return { kind: 'prefix', seq };
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === undefined) throw err;
    assert.equal(e.code, 'CORRUPTION', `${label}: ${e.message}`);
    return { kind: 'corruption', message: e.message };
  } finally {
    await db?.close().catch(() => {});
  }
}

function rangeTombstones(fs: MemoryFileSystem, table: string): number {
  return TableReader.open(fs.openReadable(`/db/${table}`), 0).rangeTombstones.length;
}

function damaged(fs: MemoryFileSystem, path: string, change: (bytes: Uint8Array) => Uint8Array): MemoryFileSystem {
  const copy = fs.crash(0, { data: 'keep', entries: 'keep' });
  copy.poke(path, change(copy.peek(path)));
  return copy;
}

function sweepPoints(size: number, random: () => number): number[] {
  const points = new Set<number>();
  for (let i = 0; i < POINTS / 2; i++) points.add(Math.floor((i * size) / (POINTS / 2)));
  while (points.size < Math.min(size, POINTS)) points.add(Math.floor(random() * size));
  return [...points].sort((a, b) => a - b);
}

test('flips and truncations of every file kind give a consistent prefix or CORRUPTION naming the file, never wrong data', async (t) => {
  const { fs, writes, flushedSeq } = await build();
  const names = fs.list('/db');
  const files = {
    wal: names.filter((n) => n.endsWith('.wal') && fs.peek(`/db/${n}`).length > 0),
    // Tables with range tombstones first, so their range deletion blocks are swept.
    sst: names.filter((n) => n.endsWith('.sst')).sort((a, b) => rangeTombstones(fs, b) - rangeTombstones(fs, a)).slice(0, 3),
    manifest: names.filter((n) => n.startsWith('MANIFEST-')),
    current: ['CURRENT'],
  };
  assert.ok(files.wal.length === 1 && files.sst.length >= 2 && files.manifest.length === 1);
  const withRangeDeletes = files.sst.filter((n) => rangeTombstones(fs, n) > 0);
  assert.ok(withRangeDeletes.length > 0, 'the swept tables include range deletion blocks');
  const random = seededRandom(5);
  const tally: Record<string, { variants: number; corruption: number; prefix: number }> = {};
  for (const [kind, list] of Object.entries(files)) {
    tally[kind] = { variants: 0, corruption: 0, prefix: 0 };
    for (const name of list) {
      const path = `/db/${name}`;
      const size = fs.peek(path).length;
      for (const at of sweepPoints(size, random)) {
        for (const variant of ['flip', 'truncate'] as const) {
          const label = `${variant} ${name} at ${at} of ${size}`;
          const copy = damaged(fs, path, (bytes) => {
            if (variant === 'truncate') return bytes.subarray(0, at);
            bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
            return bytes;
          });
          const outcome = await openAndCheck(copy, writes, label);
          tally[kind]!.variants++;
          if (outcome.kind === 'corruption') {
            tally[kind]!.corruption++;
            assert.match(outcome.message, new RegExp(name.replace('.', '\\.')), `${label}: the error does not name the file: ${outcome.message}`);
          } else {
            tally[kind]!.prefix++;
            // Only the WAL may lose writes (its tail); anything else must keep all of them.
            const least = kind === 'wal' ? flushedSeq : writes[writes.length - 1]!.seq;
            assert.ok(outcome.seq >= least, `${label}: recovered only up to seq ${outcome.seq}`);
          }
        }
      }
    }
  }
  t.diagnostic(`outcomes per file kind: ${JSON.stringify(tally)}`);
  for (const kind of ['sst', 'manifest', 'current']) assert.ok(tally[kind]!.corruption > 0, `no ${kind} damage was detected`);
});
