/**
 * A full check of one version's tables: every block's checksum and the key order (through
 * verifyTable), that each file holds as many entries as the MANIFEST says, and the
 * level invariants. It reports instead of throwing, so one run lists every problem.
 */
import type { TableCache } from './sst/table-cache.ts';
import type { TableReader } from './sst/table-reader.ts';
import { verifyTable } from './sst/table-verify.ts';
import { tableFileName } from './version/file-meta.ts';
import type { Version } from './version/version.ts';

export interface LsmVerifyReport {
  ok: boolean;
  tables: number;
  entries: number;
  /** One line per problem found, naming the file. */
  problems: string[];
}

/** REQUIRES: `version` is pinned, so none of its files is deleted meanwhile. */
export function verifyVersion(version: Version, tables: TableCache): LsmVerifyReport {
  const problems: string[] = [];
  let tableCount = 0;
  let entries = 0;
  const invariant = version.checkInvariants();
  if (invariant) problems.push(`version: ${invariant}`);
  version.levels.forEach((files, level) => {
    for (const f of files) {
      tableCount++;
      let reader: TableReader | undefined;
      try {
        reader = tables.acquire(f.number);
        const report = verifyTable(reader);
        entries += report.entries;
        for (const err of report.errors) problems.push(err.message);
        if (report.entries !== f.entries) problems.push(`L${level} ${tableFileName(f.number)}: ${report.entries} entries, the MANIFEST says ${f.entries}`);
      } catch (err) {
        problems.push(`L${level} ${tableFileName(f.number)}: ${(err as Error).message}`);
      } finally {
        if (reader) tables.release(reader);
      }
    }
  });
  return { ok: problems.length === 0, tables: tableCount, entries, problems };
}
