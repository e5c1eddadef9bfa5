/**
 * Runs one compaction plan: merges the input tables, keeps what the CompactionFilter says
 * some reader still needs, and writes the result as tables of the output level. Returns the
 * version edit to install; the caller logs it to the MANIFEST and only then deletes inputs.
 *
 * A trivial move (one input file, nothing overlapping below) rewrites nothing: the edit just
 * moves the file down a level, as in LevelDB. Manual compactions turn it off, because their
 * point is to rewrite (dropping shadowed versions and tombstones).
 *
 * Range tombstones: every input table's are gathered and fragmented; the filter drops the
 * entries they cover (when no snapshot needs them) and the tombstones no read point needs,
 * and the rest go to the outputs, cut at the outputs' boundaries (table-writer.ts).
 */
import type { InternalIterator } from '../internal-iterator.ts';
import { LevelIterator } from '../level-iterator.ts';
import { MergingIterator } from '../merging-iterator.ts';
import type { TableCache } from '../sst/table-cache.ts';
import type { TableReader } from '../sst/table-reader.ts';
import type { FileMeta } from '../version/file-meta.ts';
import type { VersionEdit } from '../version/version-edit.ts';
import type { Version } from '../version/version.ts';
import { CompactionFilter } from './compaction-filter.ts';
import { FragmentedTombstones, type RangeTombstone } from '../range-tombstones.ts';
import { isBottomForKey, isBottomForRange, keyRange, type CompactionPlan } from './picker.ts';
import { writeTables, type TableWriterContext } from './table-writer.ts';

export interface CompactionContext {
  writer: TableWriterContext;
  version: Version;
  tables: TableCache;
  /** Live snapshot sequence numbers, ascending. */
  snapshots: number[];
  allowTrivialMove: boolean;
}

export interface CompactionResult {
  edit: VersionEdit;
  outputs: FileMeta[];
  bytesRead: number;
  bytesWritten: number;
  trivialMove: boolean;
  droppedEntries: number;
  /** Range tombstone fragments dropped. */
  droppedRangeTombstones: number;
}

/** A plan that only moves one file down a level, rewriting nothing. */
export function isTrivialMove(plan: CompactionPlan, allowTrivialMove: boolean): boolean {
  return allowTrivialMove && plan.inputs.length === 1 && plan.nextInputs.length === 0;
}

export async function runCompaction(plan: CompactionPlan, ctx: CompactionContext): Promise<CompactionResult> {
  const { level, inputs, nextInputs, outputLevel } = plan;
  const pointer: Array<[number, Uint8Array]> = [[level, keyRange(inputs)[1]]];
  if (isTrivialMove(plan, ctx.allowTrivialMove)) {
    const file = inputs[0]!;
    return {
      edit: { deletedFiles: [[level, file.number]], newFiles: [[outputLevel, file]], compactPointers: pointer },
      outputs: [],
      bytesRead: 0,
      bytesWritten: 0,
      trivialMove: true,
      droppedEntries: 0,
      droppedRangeTombstones: 0,
    };
  }
  const readers: TableReader[] = [];
  const children: InternalIterator[] = [];
  const levelIterators: LevelIterator[] = [];
  if (level === 0) {
    for (const f of inputs) {
      const reader = ctx.tables.acquire(f.number);
      readers.push(reader);
      children.push(reader.iterator());
    }
  } else {
    levelIterators.push(new LevelIterator(inputs, ctx.tables));
  }
  if (nextInputs.length > 0) levelIterators.push(new LevelIterator(nextInputs, ctx.tables));
  children.push(...levelIterators);
  const tombstones = FragmentedTombstones.from(inputTombstones([...inputs, ...nextInputs], ctx.tables));
  const filter = new CompactionFilter(
    ctx.snapshots,
    (userKey) => isBottomForKey(ctx.version, outputLevel, userKey),
    tombstones,
    (start, end) => isBottomForRange(ctx.version, outputLevel, start, end),
  );
  try {
    const merged = new MergingIterator(children);
    merged.seekToFirst();
    const kept = tombstones.coalesce((start, end, seqs, i) => filter.keepRangeTombstone(start, end, seqs, i));
    const outputs = await writeTables(ctx.writer, merged, (k, s, kind) => filter.keep(k, s, kind), kept);
    const deletedFiles: Array<[number, number]> = [
      ...inputs.map((f): [number, number] => [level, f.number]),
      ...nextInputs.map((f): [number, number] => [outputLevel, f.number]),
    ];
    return {
      edit: { deletedFiles, newFiles: outputs.map((m) => [outputLevel, m]), compactPointers: pointer },
      outputs,
      bytesRead: sumBytes(inputs) + sumBytes(nextInputs),
      bytesWritten: sumBytes(outputs),
      trivialMove: false,
      droppedEntries: filter.dropped,
      droppedRangeTombstones: filter.droppedRangeTombstones,
    };
  } finally {
    for (const l of levelIterators) l.close();
    for (const r of readers) ctx.tables.release(r);
  }
}

function inputTombstones(files: readonly FileMeta[], tables: TableCache): RangeTombstone[] {
  const out: RangeTombstone[] = [];
  for (const f of files) if ((f.rangeTombstones ?? 0) > 0) out.push(...tables.rangeTombstones(f.number));
  return out;
}

function sumBytes(files: readonly FileMeta[]): number {
  let total = 0;
  for (const f of files) total += f.fileBytes;
  return total;
}
