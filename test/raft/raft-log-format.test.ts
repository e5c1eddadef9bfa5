/**
 * The Raft log format: the worked example of docs/formats/raft-log.md is what the code writes,
 * byte for byte; records round-trip; a record of the wrong shape is CORRUPTION.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MemoryFileSystem } from '../../engine/index.ts';
import { EntryType, RaftStorage } from '../../cluster/raft/index.ts';
import { decodeRecord, encodeEntries, encodeHardState, encodeHeader, encodeSnapshot, RecordKind } from '../../cluster/raft/raft-log-format.ts';

const doc = fileURLToPath(new URL('../../docs/formats/raft-log.md', import.meta.url));

/** The hex bytes of the example block (everything before each line's comment). */
function exampleBytes(): number[] {
  const text = readFileSync(doc, 'utf8');
  const block = text.slice(text.indexOf('<!-- example:begin'), text.indexOf('<!-- example:end'));
  const lines = block.split('\n').filter((line) => /^[0-9a-f]{2}( |$)/.test(line));
  return lines.flatMap((line) => line.split(/\s{2,}/)[0]!.trim().split(' ').map((h) => parseInt(h, 16)));
}

test('the worked example in docs/formats/raft-log.md is the bytes the storage writes', async () => {
  const fs = new MemoryFileSystem();
  const storage = await RaftStorage.open(fs, '/raft');
  await storage.save({ entries: [{ index: 1, term: 1, type: EntryType.Normal, data: new TextEncoder().encode('hi') }], hardState: { term: 1, vote: 'n1', commit: 1 }, mustSync: true });
  storage.close();
  const written = [...fs.peek('/raft/raft-00000001.log')];
  assert.equal(written.length, 118);
  assert.deepEqual(exampleBytes(), written);
});

test('every record kind round-trips', () => {
  const header = { version: 1, snapshotGeneration: 7, snapshotIndex: 2 ** 40 + 3, snapshotTerm: 9 };
  assert.deepEqual(decodeRecord(encodeHeader(header), 'f'), { kind: RecordKind.Header, header });
  const hardState = { term: 2 ** 52, vote: 'nœud-1', commit: 17 };
  assert.deepEqual(decodeRecord(encodeHardState(hardState), 'f'), { kind: RecordKind.HardState, hardState });
  const entries = [{ index: 5, term: 2, type: EntryType.Normal, data: new Uint8Array([1, 2]) }, { index: 6, term: 3, type: EntryType.Membership, data: new Uint8Array(0) }];
  const decoded = decodeRecord(encodeEntries(entries), 'f');
  assert.equal(decoded.kind, RecordKind.Entries);
  assert.deepEqual(decoded.kind === RecordKind.Entries && decoded.entries.map((e) => ({ ...e, data: [...e.data] })), entries.map((e) => ({ ...e, data: [...e.data] })));
  const snapshot = { index: 9, term: 4, voters: ['a', 'b'], data: new Uint8Array([7, 7, 7]) };
  const back = decodeRecord(encodeSnapshot(snapshot), 'f');
  assert.ok(back.kind === RecordKind.Snapshot && back.snapshot.index === 9 && back.snapshot.term === 4 && back.snapshot.voters.join() === 'a,b' && back.snapshot.data.length === 3);
});

test('a record cut short, with bytes left over, of an unknown kind or version, or with non-consecutive entries is CORRUPTION', () => {
  const entries = encodeEntries([{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array(4) }]);
  const cases: Array<[string, Uint8Array]> = [
    ['cut short', entries.subarray(0, entries.length - 1)],
    ['left over', Uint8Array.from([...entries, 0])],
    ['unknown kind', Uint8Array.from([9])],
    ['unknown version', Uint8Array.from([1, 2, 0, 0, 0, 0, ...new Array(16).fill(0)])],
    ['gap', Uint8Array.from([...encodeEntries([{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array(0) }, { index: 3, term: 1, type: EntryType.Normal, data: new Uint8Array(0) }])])],
    ['entry type', Uint8Array.from([3, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0])],
  ];
  for (const [what, bytes] of cases) assert.throws(() => decodeRecord(bytes, 'f'), { code: 'CORRUPTION' }, what);
});
