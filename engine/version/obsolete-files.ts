/**
 * Which files in a database directory nothing needs any more. Pure: the directory listing and
 * what is live in, the names to delete out.
 *
 * Obsolete: a table no version in use and no compaction in progress names; a WAL older than
 * `logNumber` that no memtable still relies on; any MANIFEST but the live one; a temporary
 * file (but not CURRENT.tmp, which only the MANIFEST writer touches, mid-switch).
 */
import { parseFileName } from './file-meta.ts';

export interface LiveFiles {
  /** Tables named by the current version, every pinned version, and pending outputs. */
  tables: ReadonlySet<number>;
  /** WALs of the active and frozen memtables. */
  wals: ReadonlySet<number>;
  logNumber: number;
  manifestNumber: number;
}

export interface ObsoleteFile {
  name: string;
  /** Set for tables, so their cached readers and blocks can be dropped. */
  tableNumber?: number;
}

export function obsoleteFiles(names: readonly string[], live: LiveFiles): ObsoleteFile[] {
  const out: ObsoleteFile[] = [];
  for (const name of names) {
    const parsed = parseFileName(name);
    if (!parsed) continue;
    const number = 'number' in parsed ? parsed.number : -1;
    const obsolete =
      (parsed.type === 'temp' && !name.startsWith('CURRENT')) ||
      (parsed.type === 'wal' && number < live.logNumber && !live.wals.has(number)) ||
      (parsed.type === 'manifest' && number !== live.manifestNumber) ||
      (parsed.type === 'table' && !live.tables.has(number));
    if (obsolete) out.push(parsed.type === 'table' ? { name, tableNumber: number } : { name });
  }
  return out;
}
