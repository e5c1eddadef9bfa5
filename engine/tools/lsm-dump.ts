/**
 * lsm-dump: prints the shape of a database from its MANIFEST — levels, files, key and
 * sequence ranges, range tombstone counts — without opening the database (so it works beside a running one).
 *
 *   npx tsx engine/tools/lsm-dump.ts [--edits] DIR
 *
 * `--edits` also prints every version edit in the MANIFEST, in order.
 * Exit codes: 0 fine, 1 bad usage or an I/O error, 2 corruption (CURRENT or MANIFEST).
 */
import { pathToFileURL } from 'node:url';
import { DbError } from '../errors.ts';
import { joinPath, type FileSystem } from '../fs/file-system.ts';
import { NodeFileSystem } from '../fs/node-file-system.ts';
import { LogReader } from '../log/log-reader.ts';
import { isExclusiveBound } from '../range-tombstones.ts';
import type { FileMeta, KeyBound } from '../version/file-meta.ts';
import { readCurrent, recoverManifest } from '../version/manifest.ts';
import { decodeVersionEdit, type VersionEdit } from '../version/version-edit.ts';

const USAGE = 'usage: lsm-dump [--edits] DIR';

/** A key as UTF-8 when it is printable, else as hex. */
export function printableKey(key: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(key);
  return /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${Buffer.from(key).toString('hex')}`;
}

function bound(b: KeyBound): string {
  return isExclusiveBound(b) ? `${printableKey(b.userKey)}(exclusive)` : `${printableKey(b.userKey)}@${b.seq}`;
}

function describeFile(f: FileMeta): string {
  return `  ${String(f.number).padStart(6, '0')}.sst  ${String(f.fileBytes).padStart(10)} B  ${String(f.entries).padStart(8)} entries  ${String(f.tombstones).padStart(6)} tombstones  ${String(f.rangeTombstones ?? 0).padStart(4)} range tombstones  seq ${f.seqMin}..${f.seqMax}  [${bound(f.smallest)} .. ${bound(f.largest)}]`;
}

function describeEdit(i: number, edit: VersionEdit): string {
  const parts = [`edit ${i}:`];
  if (edit.logNumber !== undefined) parts.push(`logNumber=${edit.logNumber}`);
  if (edit.nextFileNumber !== undefined) parts.push(`nextFileNumber=${edit.nextFileNumber}`);
  if (edit.lastSequence !== undefined) parts.push(`lastSequence=${edit.lastSequence}`);
  for (const [level, f] of edit.newFiles ?? []) parts.push(`+L${level}:${f.number}`);
  for (const [level, n] of edit.deletedFiles ?? []) parts.push(`-L${level}:${n}`);
  return parts.join(' ');
}

/** Runs the tool on `argv` (without node and script); returns the exit code. */
export function runLsmDump(argv: readonly string[], fs: FileSystem, print: (line: string) => void): number {
  const edits = argv.includes('--edits');
  const dirs = argv.filter((a) => a !== '--edits');
  if (dirs.length !== 1 || dirs[0]!.startsWith('-')) {
    print(USAGE);
    return 1;
  }
  const dir = dirs[0]!;
  try {
    const state = recoverManifest(fs, dir);
    const manifest = readCurrent(fs, dir);
    print(`database ${dir}`);
    print(`manifest ${manifest}: logNumber ${state.logNumber}, nextFileNumber ${state.nextFileNumber}, lastSequence (flushed) ${state.lastSequence}`);
    if (state.droppedBytes > 0) print(`manifest torn tail dropped: ${state.droppedBytes} bytes`);
    state.version.levels.forEach((files, level) => {
      const bytes = files.reduce((n, f) => n + f.fileBytes, 0);
      print(`L${level}: ${files.length} files, ${bytes} bytes`);
      for (const f of files) print(describeFile(f));
    });
    if (edits) {
      const path = joinPath(dir, manifest);
      const reader = new LogReader(fs.readAll(path), path);
      let i = 0;
      for (let r = reader.next(); r !== undefined; r = reader.next()) print(describeEdit(i++, decodeVersionEdit(r, path)));
    }
    return 0;
  } catch (err) {
    print(`error: ${(err as Error).message}`);
    return err instanceof DbError && err.code === 'CORRUPTION' ? 2 : 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = runLsmDump(process.argv.slice(2), new NodeFileSystem(), (line) => console.log(line));
}
