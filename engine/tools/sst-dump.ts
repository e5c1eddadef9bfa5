/**
 * sst-dump: prints what an SSTable holds, for debugging and for checking a suspect file.
 *
 *   node --import tsx engine/tools/sst-dump.ts [--keys] [--verify] FILE.sst
 *
 * Prints the footer, the properties, the range tombstones, the index (separator keys and block
 * handles), a filter summary and each block's checksum status. `--keys` also prints every entry (key as UTF-8
 * when printable, else hex; seq; kind; value length). `--verify` runs verifyTable (sst/table-verify.ts) and
 * reports every damaged block.
 *
 * Exit codes (tool-shell.ts): 0 fine, 1 an I/O error, 2 bad usage, 3 corruption found (by
 * --verify, or a footer/index/filter/properties block that cannot be opened).
 */
import { pathToFileURL } from 'node:url';
import { EXIT_CORRUPTION, EXIT_FAILED, EXIT_OK, EXIT_USAGE, runToolProcess } from './tool-shell.ts';
import { CorruptionError } from '../errors.ts';
import type { FileSystem } from '../fs/file-system.ts';
import { NodeFileSystem } from '../fs/node-file-system.ts';
import { type InternalKey, ValueKind } from '../internal-key.ts';
import { isExclusiveBound } from '../range-tombstones.ts';
import type { Block, BlockIterator } from '../sst/block.ts';
import { bloomFilterInfo } from '../sst/bloom.ts';
import type { BlockHandle } from '../sst/table-format.ts';
import { TABLE_MAGIC } from '../sst/table-format.ts';
import { TableReader } from '../sst/table-reader.ts';
import { verifyTable } from '../sst/table-verify.ts';

const USAGE = 'usage: sst-dump [--keys] [--verify] FILE.sst';

export interface DumpOptions {
  keys: boolean;
  verify: boolean;
}

/** Runs the tool on `argv` (without node and script); returns the exit code. Errors and usage go to `warn`. */
export function runSstDump(argv: readonly string[], fs: FileSystem, print: (line: string) => void, warn: (line: string) => void = print): number {
  const options: DumpOptions = { keys: false, verify: false };
  const files: string[] = [];
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      print(`${USAGE}\nPrints an SSTable's footer, properties, range tombstones, index, filter and blocks (--keys: every entry;\n--verify: every checksum). Exit codes: 0 fine, 1 an I/O error, 2 bad usage, 3 corruption found.`);
      return EXIT_OK;
    }
    if (arg === '--keys') options.keys = true;
    else if (arg === '--verify') options.verify = true;
    else if (arg.startsWith('-')) return usage(warn, `unknown option ${JSON.stringify(arg)}`);
    else files.push(arg);
  }
  if (files.length !== 1) return usage(warn, `expected one file, got ${files.length}`);
  const path = files[0]!;
  let reader: TableReader;
  try {
    reader = TableReader.open(fs.openReadable(path), fileNumberOf(path));
  } catch (err) {
    if (!(err instanceof CorruptionError)) {
      const missing = (err as { cause?: { code?: unknown } }).cause?.code === 'ENOENT';
      warn(`sst-dump: ${missing ? `no such file: ${path}` : (err as Error).message}`);
      return EXIT_FAILED;
    }
    warn(`sst-dump: CORRUPTION: ${err.message}`);
    return EXIT_CORRUPTION;
  }
  try {
    return dumpTable(reader, options, print);
  } catch (err) {
    // A malformed index entry stops the walk; it is still corruption, not a tool failure.
    if (!(err instanceof CorruptionError)) throw err;
    print(`CORRUPTION: ${err.message}`);
    return EXIT_CORRUPTION;
  } finally {
    reader.close();
  }
}

function usage(warn: (line: string) => void, why: string): number {
  warn(`sst-dump: ${why}; ${USAGE}`);
  return EXIT_USAGE;
}

/** Table files are named NNNNNN.sst; anything else gets file number 0. */
function fileNumberOf(path: string): number {
  const match = /(\d+)\.sst$/.exec(path);
  return match ? Number(match[1]) : 0;
}

function dumpTable(reader: TableReader, options: DumpOptions, print: (line: string) => void): number {
  printFooter(reader, print);
  printProperties(reader, print);
  printRangeTombstones(reader, print);
  printFilter(reader, print);
  printBlocks(reader, options, print);
  if (!options.verify) return EXIT_OK;
  const report = verifyTable(reader);
  if (report.ok) {
    print(`verify: ok (${report.blocks.length} blocks, ${report.entries} entries)`);
    return EXIT_OK;
  }
  for (const err of report.errors) print(`CORRUPTION: ${err.message}`);
  print(`verify: FAILED, ${report.blocks.filter((b) => !b.ok).length} damaged block(s), ${report.errors.length} problem(s) in ${JSON.stringify(reader.path)}`);
  return EXIT_CORRUPTION;
}

function printFooter(reader: TableReader, print: (line: string) => void): void {
  const { footer } = reader;
  print(`file: ${reader.path} (${reader.file.size} bytes, file number ${reader.fileNumber})`);
  print('footer:');
  print(`  magic ${hexOf(TABLE_MAGIC)}, format version ${footer.formatVersion}`);
  if (footer.formatVersion >= 2) print(`  range del  ${handleText(footer.rangeDel)}`);
  print(`  filter     ${handleText(footer.filter)}`);
  print(`  properties ${handleText(footer.properties)}`);
  print(`  index      ${handleText(footer.index)}`);
}

function printProperties(reader: TableReader, print: (line: string) => void): void {
  const p = reader.properties;
  print('properties:');
  print(`  entries ${p.entries}, tombstones ${p.tombstones}, range tombstones ${p.rangeTombstones}, data blocks ${p.dataBlocks}`);
  print(`  seq ${p.seqMin}..${p.seqMax}`);
  print(`  raw key bytes ${p.rawKeyBytes}, raw value bytes ${p.rawValueBytes}, filter bytes ${p.filterBytes}, index bytes ${p.indexBytes}`);
  print(`  smallest ${boundText(p.smallest)}`);
  print(`  largest  ${boundText(p.largest)}`);
}

/** Every range tombstone, as stored: [start, end) @seq. */
function printRangeTombstones(reader: TableReader, print: (line: string) => void): void {
  const list = reader.rangeTombstones;
  print(`range tombstones: ${list.length}`);
  for (const t of list) print(`  [${keyText(t.start)}, ${keyText(t.end)}) @${t.seq} range delete`);
}

function boundText(b: InternalKey): string {
  return isExclusiveBound(b) ? `${keyText(b.userKey)} (exclusive: a range tombstone's end)` : `${keyText(b.userKey)} @${b.seq} ${kindText(b.kind)}`;
}

function printFilter(reader: TableReader, print: (line: string) => void): void {
  if (reader.filter === undefined) {
    print('filter: none');
    return;
  }
  const info = bloomFilterInfo(reader.filter);
  const perKey = reader.properties.entries > 0 ? (info.bits / reader.properties.entries).toFixed(1) : '-';
  print(`filter: ${info.bytes} bytes, k ${info.probes}, ${info.bits} bits, ${perKey} bits per entry`);
}

/** Prints the index with each data block's checksum status (and entries with --keys). */
function printBlocks(reader: TableReader, options: DumpOptions, print: (line: string) => void): void {
  print(`index: ${reader.index.restartCount} entries`);
  const index = reader.index.iterator();
  let n = 0;
  for (index.seekToFirst(); index.valid(); index.next(), n++) {
    const handle = { ...reader.handleAt(index) };
    const separator = index.userKey();
    let status = 'checksum ok';
    let block: Block | undefined;
    try {
      block = reader.readDataBlockUncached(handle);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      status = `CORRUPT: ${err.message}`;
    }
    print(`  block #${n} ${handleText(handle)} separator ${keyText(separator)} @${index.seq()}: ${status}`);
    if (options.keys && block) printEntries(block.iterator(), print);
  }
  const { footer } = reader;
  const meta = [['range deletion', footer.rangeDel], ['filter', footer.filter], ['properties', footer.properties], ['index', footer.index]] as const;
  for (const [what, handle] of meta) {
    if (what === 'range deletion' && footer.formatVersion === 1) continue;
    print(`  ${what} block ${handleText(handle)}: checksum ok (verified at open)`);
  }
}

function printEntries(it: BlockIterator, print: (line: string) => void): void {
  try {
    for (it.seekToFirst(); it.valid(); it.next()) {
      print(`    ${keyText(it.userKey())} @${it.seq()} ${kindText(it.kind())} value ${it.value().length} bytes`);
    }
  } catch (err) {
    if (!(err instanceof CorruptionError)) throw err;
    print(`    CORRUPT: ${err.message}`);
  }
}

function handleText(h: BlockHandle): string {
  return `offset ${h.offset} size ${h.size}`;
}

function kindText(kind: ValueKind): string {
  if (kind === ValueKind.RangeDelete) return 'range delete';
  return kind === ValueKind.Put ? 'put' : kind === ValueKind.Delete ? 'delete' : `kind ${kind}`;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A key as a JSON string when it is printable UTF-8, else as 0x-prefixed hex. */
export function keyText(key: Uint8Array): string {
  try {
    const text = strictUtf8.decode(key);
    if (!/[\u0000-\u001f\u007f-\u009f]/.test(text)) return JSON.stringify(text);
  } catch {
    // Not UTF-8: fall through to hex.
  }
  return `0x${hexOf(key)}`;
}

function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runToolProcess('sst-dump', (argv, out) => runSstDump(argv, new NodeFileSystem(), out.print, out.warn));
}
