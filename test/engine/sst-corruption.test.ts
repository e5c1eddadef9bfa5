import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CorruptionError } from '../../engine/errors.ts';
import { SEQ_MAX } from '../../engine/internal-key.ts';
import { BlockCache } from '../../engine/sst/block-cache.ts';
import { TableReader } from '../../engine/sst/table-reader.ts';
import { verifyTable } from '../../engine/sst/table-verify.ts';
import { bytesEqual } from '../../engine/util/bytes.ts';
import { compareTombstones, type RangeTombstone } from '../../engine/range-tombstones.ts';
import { buildTable, type BuiltTable, describeEntry, type Entry, hex, modelGet, randomEntries, utf8 } from './sst-fixtures.ts';

/**
 * Reads everything a table holds, in every way a caller can, checking each answer against
 * the model. Returns true if corruption was reported (by a throw or by verify), false if
 * every read returned the right data. Any other outcome fails the test.
 */
function readAllOrReportCorruption(built: BuiltTable, entries: readonly Entry[], what: string, tombstones: readonly RangeTombstone[] = []): boolean {
  const isReported = (err: unknown): true => {
    assert.ok(err instanceof CorruptionError, `${what}: expected CorruptionError, got ${String(err)}`);
    assert.equal(err.code, 'CORRUPTION');
    assert.equal(err.file, built.path, `${what}: the error names the file`);
    return true;
  };
  let reader: TableReader;
  try {
    reader = TableReader.open(built.fs.openReadable(built.path), 7, new BlockCache(1 << 20));
  } catch (err) {
    return isReported(err);
  }
  let reported = false;
  const stored = reader.rangeTombstones.map((t) => `${hex(t.start)}..${hex(t.end)}@${t.seq}`);
  const expected = [...tombstones].sort(compareTombstones).map((t) => `${hex(t.start)}..${hex(t.end)}@${t.seq}`);
  assert.deepEqual(stored, expected, `${what}: the range tombstones read are not the ones written`);
  for (const e of entries) {
    try {
      const got = reader.get(e.userKey, SEQ_MAX);
      const want = newest(entries).get(e)!;
      const right = got !== undefined && got.seq === want.seq && got.kind === want.kind && bytesEqual(got.value, want.value);
      if (!right) assert.fail(`${what}: get returned ${describeEntry(got && { userKey: e.userKey, ...got })}, not ${describeEntry(want)}`);
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      reported = isReported(err);
    }
  }
  try {
    const it = reader.iterator();
    let i = 0;
    for (it.seekToFirst(); it.valid(); it.next(), i++) {
      const e = entries[i];
      const right = e && it.seq() === e.seq && it.kind() === e.kind && bytesEqual(it.userKey(), e.userKey) && bytesEqual(it.value(), e.value);
      if (!right) assert.fail(`${what}: iterator entry ${i} is wrong`);
    }
    assert.equal(i, entries.length, `${what}: iterator entry count`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    reported = isReported(err);
  }
  const report = verifyTable(reader);
  for (const err of report.errors) isReported(err);
  return reported || !report.ok;
}

/** For each entry, the newest version of its user key (what get at SEQ_MAX returns), memoized. */
const newestMemo = new WeakMap<readonly Entry[], Map<Entry, Entry>>();
function newest(entries: readonly Entry[]): Map<Entry, Entry> {
  let map = newestMemo.get(entries);
  if (!map) {
    map = new Map(entries.map((e) => [e, modelGet(entries, e.userKey, SEQ_MAX)!]));
    newestMemo.set(entries, map);
  }
  return map;
}

const entries = randomEntries(60, 21);
/** Range tombstones too, so every sweep below covers the range deletion block. */
const tombstones: RangeTombstone[] = [
  { start: utf8('b'), end: utf8('d'), seq: 100 },
  { start: utf8('c'), end: utf8('cc'), seq: 101 },
  { start: utf8('x'), end: Uint8Array.of(0xff, 0xff), seq: 102 },
];
const built = buildTable(entries, { blockBytes: 256 }, undefined, tombstones);
const original = built.fs.peek(built.path);

test('the undamaged table reads back fully and verifies', () => {
  assert.equal(readAllOrReportCorruption(built, entries, 'undamaged', tombstones), false);
});

test('every single-bit flip anywhere in a table, its range deletion block included, is reported as corruption naming the file', () => {
  assert.equal(built.open().footer.rangeDel.size > 0, true, 'the table has a range deletion block');
  let detected = 0;
  for (let at = 0; at < original.length; at++) {
    for (const mask of [0x01, 0x80]) {
      const damaged = original.slice();
      damaged[at]! ^= mask;
      built.fs.poke(built.path, damaged);
      if (readAllOrReportCorruption(built, entries, `flip 0x${mask.toString(16)} at byte ${at} of ${original.length}`, tombstones)) detected++;
    }
  }
  built.fs.poke(built.path, original);
  // Every byte is covered by a block checksum, the footer checksum or the magic number.
  assert.equal(detected, original.length * 2);
});

test('a byte overwritten with zeros or 0xff anywhere is reported or harmless, never a wrong value', () => {
  for (let at = 0; at < original.length; at++) {
    for (const value of [0x00, 0xff]) {
      const damaged = original.slice();
      damaged[at] = value;
      built.fs.poke(built.path, damaged);
      readAllOrReportCorruption(built, entries, `byte ${at} set to 0x${value.toString(16)}`, tombstones);
    }
  }
  built.fs.poke(built.path, original);
});

test('every truncation of a table is reported as corruption naming the file', () => {
  for (let length = 0; length < original.length; length++) {
    built.fs.poke(built.path, original.subarray(0, length));
    assert.equal(readAllOrReportCorruption(built, entries, `truncated to ${length} bytes`, tombstones), true);
  }
  built.fs.poke(built.path, original);
});

test('bytes appended after the footer are reported as corruption', () => {
  for (const extra of [1, 7, 52, 100]) {
    const grown = new Uint8Array(original.length + extra);
    grown.set(original);
    built.fs.poke(built.path, grown);
    assert.equal(readAllOrReportCorruption(built, entries, `${extra} bytes appended`, tombstones), true);
  }
  built.fs.poke(built.path, original);
});

test('flips in a table with default-sized blocks and large values are all reported', () => {
  const big = randomEntries(400, 22, { valueBytesMax: 600 });
  const table = buildTable(big);
  const bytes = table.fs.peek(table.path);
  let detected = 0;
  let tried = 0;
  for (let at = 0; at < bytes.length; at += 101) {
    const damaged = bytes.slice();
    damaged[at]! ^= 0x10;
    table.fs.poke(table.path, damaged);
    tried++;
    if (readAllOrReportCorruption(table, big, `flip at byte ${at}`)) detected++;
  }
  assert.equal(detected, tried);
});

test('a corrupted data block names its offset, and the cache never holds it', () => {
  const bytes = original.slice();
  bytes[10]! ^= 0x04;
  built.fs.poke(built.path, bytes);
  const reader = TableReader.open(built.fs.openReadable(built.path), 7);
  assert.throws(() => reader.iterator().seekToFirst(), /checksum mismatch in data block at offset 0/);
  const report = verifyTable(reader);
  assert.equal(report.ok, false);
  assert.equal(report.blocks.filter((b) => !b.ok).length, 1);
  assert.equal(report.blocks.find((b) => !b.ok)?.offset, 0);
  built.fs.poke(built.path, original);
});
