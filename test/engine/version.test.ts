/**
 * Versions and version edits (engine/version/), data-driven from testdata/version.txt:
 * applying edits (L0 kept newest first, deeper levels sorted and disjoint, an edit that would
 * overlap a level refused), the queries reads and the picker use (overlapping, findFile), the
 * snapshot edit a new MANIFEST starts with, and version edits through their MANIFEST encoding
 * (round trip, and the malformed edits decoding refuses). Pure; no files.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Packr } from 'msgpackr';
import { decodeVersionEdit, encodeVersionEdit, type VersionEdit } from '../../engine/version/version-edit.ts';
import { Version } from '../../engine/version/version.ts';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';
import type { FileMeta } from '../../engine/version/file-meta.ts';
import { formatFile, formatVersion, key, parseFile, parseLevel, parseLevels, text } from './version-script.ts';

/** The edit written by the input lines: `add L1 7:a-c ...`, `delete L0 5 4`, `pointer L1 c`. */
function parseEdit(c: Case): VersionEdit {
  const edit: VersionEdit = {};
  const number = (name: string) => (c.named.has(name) ? Number(c.named.get(name)) : undefined);
  if (number('log') !== undefined) edit.logNumber = number('log');
  if (number('next') !== undefined) edit.nextFileNumber = number('next');
  if (number('last-seq') !== undefined) edit.lastSequence = number('last-seq');
  for (const line of c.input) {
    const [verb, levelName, ...args] = line.trim().split(/\s+/);
    const level = parseLevel(levelName);
    if (verb === 'add') (edit.newFiles ??= []).push(...args.map((spec) => [level, parseFile(spec)] as [number, FileMeta]));
    else if (verb === 'delete') (edit.deletedFiles ??= []).push(...args.map((n) => [level, Number(n)] as [number, number]));
    else if (verb === 'pointer') (edit.compactPointers ??= []).push([level, key(args[0]!)]);
    else throw new Error(`unknown edit line ${JSON.stringify(line)}`);
  }
  return edit;
}

function formatEdit(edit: VersionEdit): string {
  const lines: string[] = [];
  const counters = (['logNumber', 'nextFileNumber', 'lastSequence'] as const).filter((name) => edit[name] !== undefined);
  if (counters.length > 0) lines.push(counters.map((name) => `${name}=${edit[name]}`).join(' '));
  for (const [level, f] of edit.newFiles ?? []) lines.push(`add L${level} ${formatFile(f)}`);
  for (const [level, n] of edit.deletedFiles ?? []) lines.push(`delete L${level} ${n}`);
  for (const [level, k] of edit.compactPointers ?? []) lines.push(`pointer L${level} ${text(k)}`);
  return lines.join('\n') || '(empty edit)';
}

/** A value with its keys as text, so a decoded edit (keys as Buffers) compares with the original. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return `key:${text(value)}`;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([name, v]) => [name, plain(v)]));
  return value;
}

it('applies and encodes version edits as written in testdata/version.txt', () => {
  let version = Version.empty();
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });
  runDataDriven(fileURLToPath(new URL('./testdata/version.txt', import.meta.url)), (c: Case) => {
    const level = Number(c.named.get('level') ?? 0);
    switch (c.command) {
      case 'define':
        version = Version.empty().apply({ newFiles: parseLevels(c.input) });
        return formatVersion(version);
      case 'apply':
        try {
          version = version.apply(parseEdit(c));
          return formatVersion(version);
        } catch (err) {
          return `error: ${(err as Error).message}`;
        }
      case 'overlapping': {
        const bound = (name: string) => (c.named.has(name) ? key(c.named.get(name)!) : undefined);
        return version.overlapping(level, bound('from'), bound('to')).map((f) => f.number).join(' ') || 'none';
      }
      case 'find': {
        const files = version.levels[level]!;
        const i = version.findFile(level, key(c.named.get('key')!));
        return i < files.length ? `index ${i}: table ${files[i]!.number}` : `index ${i}: past the last table`;
      }
      case 'sizes':
        return version.levels.map((_, l) => `L${l} ${version.fileCount(l)} files ${version.levelBytes(l)} bytes`).filter((line) => !line.includes(' 0 files')).join('\n') +
          `\nrange tombstones: ${version.hasRangeTombstones ? 'yes' : 'no'}`;
      case 'snapshot-edit': {
        const edit = version.toEdit();
        // The snapshot edit must rebuild this very version from nothing.
        assert.equal(formatVersion(Version.empty().apply(edit)), formatVersion(version));
        return formatEdit(edit);
      }
      case 'encode': {
        const edit = parseEdit(c);
        const bytes = encodeVersionEdit(edit);
        const decoded = decodeVersionEdit(bytes, 'MANIFEST-test');
        assert.deepEqual(plain(decoded), plain(edit), 'the decoded edit differs from the one encoded');
        return `${bytes.length} bytes, decoded:\n${formatEdit(decoded)}`;
      }
      case 'decode':
        try {
          return formatEdit(decodeVersionEdit(packr.pack(JSON.parse(c.input.join('\n'))), 'MANIFEST-test'));
        } catch (err) {
          return `error: ${(err as Error).message}`;
        }
      default:
        throw new Error(`unknown command ${c.command}`);
    }
  });
});
