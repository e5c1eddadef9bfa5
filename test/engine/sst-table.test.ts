import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssertionError } from '../../engine/errors.ts';
import { MemoryFileSystem, seededRandom } from '../../engine/fs/memory-file-system.ts';
import { SEQ_MAX, ValueKind } from '../../engine/internal-key.ts';
import type { InternalIterator } from '../../engine/internal-iterator.ts';
import { TableBuilder } from '../../engine/sst/table-builder.ts';
import { TableReader } from '../../engine/sst/table-reader.ts';
import { verifyTable } from '../../engine/sst/table-verify.ts';
import {
  buildTable,
  describeEntry,
  type Entry,
  modelGet,
  modelSeek,
  modelSeekForPrev,
  randomBytes,
  randomEntries,
  sortEntries,
  utf8,
} from './sst-fixtures.ts';

function current(it: InternalIterator): Entry | undefined {
  return it.valid() ? { userKey: it.userKey(), seq: it.seq(), kind: it.kind(), value: it.value() } : undefined;
}

function assertAt(it: InternalIterator, expected: Entry | undefined, what: string): void {
  assert.equal(describeEntry(current(it)), describeEntry(expected), what);
}

const entries = randomEntries(4000, 1);
// Small blocks so the table has many of them and block boundaries get exercised.
const table = buildTable(entries, { blockBytes: 512 });

test('get returns the newest version at or below the read sequence number for every key', () => {
  const reader = table.open();
  const random = seededRandom(2);
  for (const e of entries) {
    for (const seq of [SEQ_MAX, e.seq, e.seq - 1, Math.floor(random() * entries.length)]) {
      const got = reader.get(e.userKey, seq);
      const want = modelGet(entries, e.userKey, seq);
      assert.equal(describeEntry(got && { userKey: e.userKey, ...got }), describeEntry(want && { ...want, userKey: e.userKey }));
    }
  }
});

test('get returns undefined for keys the table does not hold', () => {
  const reader = table.open();
  const random = seededRandom(3);
  let misses = 0;
  for (let i = 0; i < 2000; i++) {
    const key = randomBytes(random, 1 + Math.floor(random() * 14), 5);
    const want = modelGet(entries, key, SEQ_MAX);
    const got = reader.get(key, SEQ_MAX);
    if (want === undefined) misses++;
    assert.equal(got?.seq, want?.seq);
  }
  assert.ok(misses > 500, `only ${misses} misses were tried`);
  assert.ok(reader.stats.filterNegatives > 0.9 * misses, `the filter ruled out ${reader.stats.filterNegatives} of ${misses} misses`);
});

test('tombstones come back as deletes with an empty value', () => {
  const reader = table.open();
  const tombstone = entries.find((e) => e.kind === ValueKind.Delete)!;
  const got = reader.get(tombstone.userKey, tombstone.seq);
  assert.equal(got?.kind, ValueKind.Delete);
  assert.equal(got?.value.length, 0);
  assert.equal(table.metadata.tombstones, entries.filter((e) => e.kind === ValueKind.Delete).length);
});

test('the iterator walks every entry forward and backward in internal order', () => {
  const it = table.open().iterator();
  let i = 0;
  for (it.seekToFirst(); it.valid(); it.next()) assertAt(it, entries[i++], `forward entry ${i}`);
  assert.equal(i, entries.length);
  for (it.seekToLast(); it.valid(); it.prev()) assertAt(it, entries[--i], `backward entry ${i}`);
  assert.equal(i, 0);
});

test('with readahead, iterators read the same entries in fewer reads, blocks larger than a chunk included', () => {
  const withBig = sortEntries([...randomEntries(600, 5), ...Array.from({ length: 5 }, (_, i) => ({ userKey: utf8(`big-${i}`), seq: 9000 + i, kind: ValueKind.Put, value: new Uint8Array(3000).fill(i) }))]);
  const built = buildTable(withBig, { blockBytes: 512 });
  const fileReads: number[] = [];
  for (const readahead of [0, 1024, 8192, 1 << 20]) {
    const reader = built.open();
    reader.setReadahead(readahead);
    built.fs.log.length = 0;
    built.fs.recordLog = true;
    const it = reader.iterator();
    let i = 0;
    for (it.seekToFirst(); it.valid(); it.next()) assertAt(it, withBig[i++], `readahead ${readahead}, entry ${i}`);
    assert.equal(i, withBig.length);
    fileReads.push(built.fs.log.filter((e) => e.op === 'read').length);
    built.fs.recordLog = false;
    for (it.seekToLast(); it.valid(); it.prev()) assertAt(it, withBig[--i], `readahead ${readahead}, backward ${i}`);
    assert.equal(i, 0);
  }
  const [none, small, , whole] = fileReads;
  assert.ok(small! < none! && whole === 1, `file reads by readahead 0, 1 KiB, 8 KiB, 1 MiB: ${fileReads.join(', ')}`);
});

test('a corrupt block read ahead is CORRUPTION, like one read alone', () => {
  const built = buildTable(randomEntries(500, 6), { blockBytes: 512 });
  const bytes = built.fs.peek(built.path);
  bytes[700] = bytes[700]! ^ 0x55;
  built.fs.poke(built.path, bytes);
  const reader = built.open();
  reader.setReadahead(64 * 1024);
  const it = reader.iterator();
  assert.throws(() => {
    for (it.seekToFirst(); it.valid(); it.next());
  }, /checksum mismatch/);
});

test('seek and seekForPrev land where the sorted model says', () => {
  const it = table.open().iterator();
  const random = seededRandom(4);
  for (let n = 0; n < 3000; n++) {
    const probe = random() < 0.5 ? entries[Math.floor(random() * entries.length)]!.userKey : randomBytes(random, 1 + Math.floor(random() * 13), 4);
    const seq = random() < 0.3 ? SEQ_MAX : Math.floor(random() * entries.length);
    it.seek(probe, seq);
    assertAt(it, entries[modelSeek(entries, probe, seq)], `seek ${describeEntry({ userKey: probe, seq, kind: 1, value: new Uint8Array() })}`);
    it.seekForPrev(probe);
    const at = modelSeekForPrev(entries, probe);
    assertAt(it, at < 0 ? undefined : entries[at], 'seekForPrev');
  }
});

test('next and prev interleaved across block boundaries match the model', () => {
  const it = table.open().iterator();
  const random = seededRandom(5);
  let at = Math.floor(entries.length / 2);
  it.seek(entries[at]!.userKey, entries[at]!.seq);
  for (let n = 0; n < 5000 && it.valid(); n++) {
    assertAt(it, entries[at], `step ${n}`);
    if (random() < 0.5) {
      it.next();
      at++;
    } else {
      it.prev();
      at--;
    }
  }
  assert.ok(at === -1 || at === entries.length || it.valid());
});

test('keys that share long prefixes round-trip through prefix compression', () => {
  const prefix = 'p'.repeat(300);
  const long = sortEntries(Array.from({ length: 500 }, (_, i) => ({ userKey: utf8(`${prefix}${(i * 7919) % 1000}`), seq: i + 1, kind: ValueKind.Put, value: utf8(`v${i}`) })));
  const built = buildTable(long, { blockBytes: 1024 });
  const reader = built.open();
  for (const e of long) assert.equal(describeEntry(reader.get(e.userKey, SEQ_MAX) && { userKey: e.userKey, ...reader.get(e.userKey, SEQ_MAX)! }), describeEntry(e));
  // Prefix compression: the data takes far less than the raw keys.
  assert.ok(built.metadata.fileBytes < reader.properties.rawKeyBytes / 3, `file of ${built.metadata.fileBytes} bytes for ${reader.properties.rawKeyBytes} raw key bytes`);
  const it = reader.iterator();
  let i = long.length;
  for (it.seekToLast(); it.valid(); it.prev()) assertAt(it, long[--i], 'backward');
  assert.equal(i, 0);
});

test('values larger than a block are stored whole and read back', () => {
  const random = seededRandom(6);
  const big = sortEntries(
    Array.from({ length: 20 }, (_, i) => ({ userKey: utf8(`k${i}`), seq: i + 1, kind: ValueKind.Put, value: randomBytes(random, 3000 + i * 1000, 256) })),
  );
  const built = buildTable(big, { blockBytes: 4096 });
  const reader = built.open();
  for (const e of big) assert.deepEqual(reader.get(e.userKey, SEQ_MAX)?.value, e.value);
  const it = reader.iterator();
  let i = 0;
  for (it.seekToFirst(); it.valid(); it.next()) assert.deepEqual(it.value(), big[i++]!.value);
  assert.ok(verifyTable(reader).ok);
});

test('finish returns the metadata that the properties block records', () => {
  const reader = table.open();
  const m = table.metadata;
  const p = reader.properties;
  assert.equal(m.fileBytes, table.fs.peek(table.path).length);
  assert.equal(m.entries, entries.length);
  assert.equal(p.entries, entries.length);
  assert.equal(p.tombstones, m.tombstones);
  assert.deepEqual([p.seqMin, p.seqMax], [1, entries.length]);
  assert.deepEqual([m.seqMin, m.seqMax], [1, entries.length]);
  assert.equal(describeEntry({ ...m.smallest, value: new Uint8Array() }), describeEntry({ ...entries[0]!, value: new Uint8Array() }));
  assert.equal(describeEntry({ ...p.largest, value: new Uint8Array() }), describeEntry({ ...entries.at(-1)!, value: new Uint8Array() }));
  assert.equal(p.rawValueBytes, entries.reduce((n, e) => n + e.value.length, 0));
  assert.ok(p.dataBlocks > 50, `${p.dataBlocks} data blocks`);
  assert.ok(verifyTable(reader).ok);
});

test('estimatedBytes tracks the size the finished file will have', () => {
  const fs = new MemoryFileSystem();
  fs.mkdirp('/db');
  const builder = new TableBuilder(fs.createWritable('/db/1.sst'), { blockBytes: 1024 });
  for (const e of entries) builder.add(e.userKey, e.seq, e.kind, e.value);
  const estimate = builder.estimatedBytes();
  const { fileBytes } = builder.finish();
  assert.ok(Math.abs(estimate - fileBytes) < 0.05 * fileBytes, `estimated ${estimate}, wrote ${fileBytes}`);
});

test('the builder asserts that keys arrive in strictly increasing internal order', () => {
  const fs = new MemoryFileSystem();
  fs.mkdirp('/db');
  const builder = new TableBuilder(fs.createWritable('/db/1.sst'));
  builder.add(utf8('b'), 5, ValueKind.Put, utf8('x'));
  assert.throws(() => builder.add(utf8('a'), 9, ValueKind.Put, utf8('x')), AssertionError);
  const again = new TableBuilder(fs.createWritable('/db/2.sst'));
  again.add(utf8('b'), 5, ValueKind.Put, utf8('x'));
  assert.throws(() => again.add(utf8('b'), 6, ValueKind.Put, utf8('x')), AssertionError, 'a newer version must come first');
  assert.throws(() => again.add(utf8('b'), 5, ValueKind.Put, utf8('x')), AssertionError, 'a duplicate is out of order');
});

test('an abandoned builder refuses further use and finish needs an entry', () => {
  const fs = new MemoryFileSystem();
  fs.mkdirp('/db');
  const builder = new TableBuilder(fs.createWritable('/db/1.sst'));
  assert.throws(() => builder.finish(), AssertionError);
  builder.abandon();
  assert.throws(() => builder.add(utf8('a'), 1, ValueKind.Put, utf8('x')), AssertionError);
});

test('a table written without a bloom filter still answers every get', () => {
  const built = buildTable(entries.slice(0, 500), { bloomBitsPerKey: 0 });
  const reader = built.open();
  assert.equal(reader.filter, undefined);
  for (const e of entries.slice(0, 500)) assert.ok(reader.get(e.userKey, SEQ_MAX));
  assert.equal(reader.get(utf8('zzzz-absent'), SEQ_MAX), undefined);
  assert.equal(reader.stats.filterProbes, 0);
});

test('user keys with 0xff bytes and the empty user key sort and read back', () => {
  const odd = sortEntries([
    { userKey: new Uint8Array(0), seq: 1, kind: ValueKind.Put, value: utf8('empty') },
    { userKey: Uint8Array.of(0xff, 0xff), seq: 2, kind: ValueKind.Put, value: utf8('ffff') },
    { userKey: Uint8Array.of(0xff), seq: 3, kind: ValueKind.Put, value: utf8('ff') },
    { userKey: Uint8Array.of(0x00), seq: 4, kind: ValueKind.Delete, value: new Uint8Array() },
  ]);
  const reader = buildTable(odd, { blockBytes: 256 }).open();
  for (const e of odd) assert.equal(reader.get(e.userKey, SEQ_MAX)?.seq, e.seq);
  assert.ok(verifyTable(reader).ok);
});

test('a closed reader asserts on use, and references keep it open', () => {
  const reader = table.open();
  reader.ref();
  reader.close();
  assert.ok(reader.get(entries[0]!.userKey, SEQ_MAX));
  reader.unref();
  assert.ok(reader.closed);
  assert.throws(() => reader.get(entries[0]!.userKey, SEQ_MAX), AssertionError);
});

test('a table opened from a real reader sees the same bytes the builder wrote', () => {
  const reopened = TableReader.open(table.fs.openReadable(table.path), 9);
  assert.equal(reopened.fileNumber, 9);
  assert.equal(reopened.properties.entries, entries.length);
});

test('keys and values returned by the iterator stay unchanged after it moves', () => {
  const it = table.open().iterator();
  const kept: Entry[] = [];
  for (it.seekToFirst(); it.valid(); it.next()) kept.push({ userKey: it.userKey(), seq: it.seq(), kind: it.kind(), value: it.value() });
  assert.equal(kept.length, entries.length);
  kept.forEach((e, i) => assert.equal(describeEntry(e), describeEntry(entries[i]), `entry ${i}`));
});
