/**
 * lsm-dump: prints the shape of a database from its MANIFEST — levels, files, key and
 * sequence ranges, range tombstone counts — without opening the database (so it works beside a running one).
 *
 *   node --import tsx engine/tools/lsm-dump.ts [--edits] DIR
 *
 * `--edits` also prints every version edit in the MANIFEST, in order.
 * Exit codes (tool-shell.ts): 0 fine, 1 an I/O error, 2 bad usage, 3 corruption (CURRENT or MANIFEST).
 */
import { pathToFileURL } from 'node:url';
import { EXIT_CORRUPTION, EXIT_FAILED, EXIT_OK, EXIT_USAGE, runToolProcess } from './tool-shell.ts';
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

/** Runs the tool on `argv` (without node and script); returns the exit code. Errors and usage go to `warn`. */
export function runLsmDump(argv: readonly string[], fs: FileSystem, print: (line: string) => void, warn: (line: string) => void = print): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    print(`${USAGE}\nPrints a database's levels and tables from its MANIFEST (--edits: and every version edit).\nExit codes: 0 fine, 1 an I/O error, 2 bad usage, 3 corruption.`);
    return EXIT_OK;
  }
  const edits = argv.includes('--edits');
  const dirs = argv.filter((a) => a !== '--edits');
  const unknown = dirs.find((a) => a.startsWith('-'));
  if (unknown !== undefined || dirs.length !== 1) {
    warn(`lsm-dump: ${unknown !== undefined ? `unknown option ${JSON.stringify(unknown)}` : `expected one database directory, got ${dirs.length}`}; ${USAGE}`);
    return EXIT_USAGE;
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
    const corrupt = err instanceof DbError && err.code === 'CORRUPTION';
    const missing = (err as { cause?: { code?: unknown } }).cause?.code === 'ENOENT';
    warn(`lsm-dump: ${corrupt ? 'CORRUPTION: ' : ''}${missing ? `no database in ${dir} (${(err as Error).message})` : (err as Error).message}`);
    return corrupt ? EXIT_CORRUPTION : EXIT_FAILED;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runToolProcess('lsm-dump', (argv, out) => runLsmDump(argv, new NodeFileSystem(), out.print, out.warn));
}
