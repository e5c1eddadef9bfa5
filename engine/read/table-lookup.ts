/**
 * A point lookup in one version's tables: L0's tables newest first (they may overlap), then
 * in each deeper level the one table whose range can hold the key. The first version of the
 * key found (a tombstone included) is the answer, since every table below holds only older
 * versions of it. Range tombstones are not looked at: a caller with any uses the tree's own
 * path (lsm-tree.ts, getUnderRangeTombstones).
 *
 * Shared by the owning thread (LsmTree.get) and the read thread (read-worker.ts). Synchronous.
 */
import type { TableCache } from '../sst/table-cache.ts';
import type { TableEntry } from '../sst/table-reader.ts';
import { compareBytes } from '../util/bytes.ts';
import { LEVEL_COUNT, type Version } from '../version/version.ts';

/** The newest entry for `userKey` at or below `seq` in `version`'s tables, or undefined. */
export function lookupInTables(version: Version, tables: TableCache, userKey: Uint8Array, seq: number): TableEntry | undefined {
  let entry: TableEntry | undefined;
  for (const f of version.levels[0]!) {
    if (compareBytes(userKey, f.smallest.userKey) < 0 || compareBytes(userKey, f.largest.userKey) > 0) continue;
    entry = tables.get(f.number, userKey, seq);
    if (entry) return entry;
  }
  for (let level = 1; level < LEVEL_COUNT; level++) {
    const files = version.levels[level]!;
    if (files.length === 0) continue;
    const i = version.findFile(level, userKey);
    if (i >= files.length || compareBytes(userKey, files[i]!.smallest.userKey) < 0) continue;
    entry = tables.get(files[i]!.number, userKey, seq);
    if (entry) return entry;
  }
  return undefined;
}
