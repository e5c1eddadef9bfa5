/**
 * The notation the version and picker scripts (testdata/version.txt, testdata/picker.txt) use
 * for tables and versions, parsed into FileMeta and printed back.
 *
 *   level line := "L" level file*
 *   file       := number ":" smallest "-" largest ("," name "=" value)*
 *                 names: size (bytes, default 100), seq (min-max, default number-number),
 *                 rangedels (range tombstones held, default 0)
 *
 * For example `L1 7:a-c,size=300 8:d-f,seq=4-9`. Keys are UTF-8 strings without spaces,
 * commas or dashes.
 */
import { ValueKind } from '../../engine/internal-key.ts';
import type { FileMeta } from '../../engine/version/file-meta.ts';
import { LEVEL_COUNT, type Version } from '../../engine/version/version.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const key = (text: string): Uint8Array => encoder.encode(text);
export const text = (bytes: Uint8Array): string => decoder.decode(bytes);

/** One table from its notation, e.g. `7:a-c,size=300,seq=4-9,rangedels=1`. */
export function parseFile(spec: string): FileMeta {
  const [head, ...fields] = spec.split(',');
  const m = /^(\d+):([^-]+)-([^-]+)$/.exec(head!);
  if (!m) throw new Error(`bad table ${JSON.stringify(spec)}: want number:smallest-largest`);
  const number = Number(m[1]);
  let fileBytes = 100;
  let [seqMin, seqMax] = [number, number];
  let rangeTombstones = 0;
  for (const field of fields) {
    const [name, value = ''] = field.split('=');
    if (name === 'size') fileBytes = Number(value);
    else if (name === 'rangedels') rangeTombstones = Number(value);
    else if (name === 'seq') [seqMin, seqMax] = value.split('-').map(Number) as [number, number];
    else throw new Error(`bad table field ${JSON.stringify(field)} in ${JSON.stringify(spec)}`);
  }
  return {
    number,
    fileBytes,
    smallest: { userKey: key(m[2]!), seq: seqMax, kind: ValueKind.Put },
    largest: { userKey: key(m[3]!), seq: seqMin, kind: ValueKind.Put },
    entries: 1,
    tombstones: 0,
    rangeTombstones,
    seqMin,
    seqMax,
  };
}

/** `L3` as 3. */
export function parseLevel(name: string | undefined): number {
  const level = /^L(\d)$/.exec(name ?? '');
  if (!level || Number(level[1]) >= LEVEL_COUNT) throw new Error(`bad level ${JSON.stringify(name)}: want L0..L${LEVEL_COUNT - 1}`);
  return Number(level[1]);
}

/** Level lines (`L1 7:a-c 8:d-f`, one per line) as the [level, table] pairs of an edit. */
export function parseLevels(lines: readonly string[]): Array<[number, FileMeta]> {
  return lines.flatMap((line) => {
    const [name, ...files] = line.trim().split(/\s+/);
    const level = parseLevel(name);
    return files.map((spec) => [level, parseFile(spec)] as [number, FileMeta]);
  });
}

/** A table in the notation, with the fields that differ from their defaults. */
export function formatFile(f: FileMeta): string {
  let out = `${f.number}:${text(f.smallest.userKey)}-${text(f.largest.userKey)}`;
  if (f.fileBytes !== 100) out += `,size=${f.fileBytes}`;
  if (f.seqMin !== f.number || f.seqMax !== f.number) out += `,seq=${f.seqMin}-${f.seqMax}`;
  if ((f.rangeTombstones ?? 0) > 0) out += `,rangedels=${f.rangeTombstones}`;
  return out;
}

export const formatFiles = (files: readonly FileMeta[]): string => files.map((f) => f.number).join(' ') || '-';

/** Each non-empty level on a line, tables in the version's order; `empty` for none. */
export function formatVersion(version: Version): string {
  const lines: string[] = [];
  version.levels.forEach((files, level) => {
    if (files.length > 0) lines.push(`L${level} ${files.map(formatFile).join(' ')}`);
  });
  return lines.join('\n') || 'empty';
}
