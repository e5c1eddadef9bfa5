/**
 * Writes a sorted stream of entries into one or more tables: the shared back end of flush
 * (a memtable into one L0 table) and compaction (merged inputs into tables of the next level).
 *
 * Output tables are cut at `tableBytesTarget`, but only between two user keys: all versions
 * of a key stay in one table, or two tables of one level would overlap on that key.
 * Each finished table is fsynced and closed; the directory is fsynced once at the end, so when
 * this resolves every output survives a crash and a MANIFEST edit may name them. A table's
 * fsync runs while the next table is built, at most SYNCS_IN_FLIGHT_MAX at a time (waiting
 * for each in turn left the compaction thread idle a third of the time; not waiting at all
 * kept every output of a large compaction open, with its builder, until the end).
 * It yields to the event loop every YIELD_ENTRIES entries: a long job must not hold it.
 *
 * Range tombstones go to the tables whose key span they cross, cut at the cuts: a cut after
 * user key L puts [.., L ++ 0x00) in the table ending with L and the rest in the next, whose
 * smallest bound then is L ++ 0x00 (below its first key, above L), so the level's tables stay
 * disjoint. Tombstones past the last entry go to the last table (one holding only tombstones
 * when no entry was kept).
 */
import type { FileSystem, WritableFile } from '../fs/file-system.ts';
import { joinPath } from '../fs/file-system.ts';
import type { InternalIterator } from '../internal-iterator.ts';
import type { ValueKind } from '../internal-key.ts';
import { TableBuilder, type TableBuilderOptions } from '../sst/table-builder.ts';
import { SYNCS_IN_FLIGHT_MAX, YIELD_ENTRIES } from '../options.ts';
import { keySuccessor, TombstoneSplitter, type RangeTombstone } from '../range-tombstones.ts';
import { bytesEqual } from '../util/bytes.ts';
import { tableFileName, type FileMeta } from '../version/file-meta.ts';


export interface TableWriterContext {
  fs: FileSystem;
  dir: string;
  builder: TableBuilderOptions;
  tableBytesTarget: number;
  /**
   * Allocates a file number and marks it as a pending output (not obsolete). Asynchronous
   * when the job runs on a worker thread and asks the owning thread for the number.
   */
  newFileNumber(): number | Promise<number>;
  /** Called every YIELD_ENTRIES entries; resolves when the job may go on. */
  pause(): Promise<void>;
}

export type KeepDecision = (userKey: Uint8Array, seq: number, kind: ValueKind) => boolean;

interface Open {
  number: number;
  file: WritableFile;
  builder: TableBuilder;
}

/**
 * Drains `source` (already positioned) into tables, keeping the entries `keep` accepts, with
 * `tombstones` (table order: range-tombstones.ts). Returns the new tables' metadata, in key
 * order. On failure, deletes what it wrote.
 */
export async function writeTables(ctx: TableWriterContext, source: InternalIterator, keep: KeepDecision, tombstones: readonly RangeTombstone[] = []): Promise<FileMeta[]> {
  const splitter = new TombstoneSplitter(tombstones);
  /** Where the open (or next) table's key span starts; undefined for the first. */
  let spanStart: Uint8Array | undefined;
  const outputs: Array<Promise<FileMeta>> = [];
  let synced = 0;
  const written: number[] = [];
  let open: Open | undefined;
  let lastKey: Uint8Array | undefined;
  let seen = 0;
  try {
    for (; source.valid(); source.next()) {
      if (++seen % YIELD_ENTRIES === 0) await ctx.pause();
      const userKey = source.userKey();
      const seq = source.seq();
      const kind = source.kind();
      if (!keep(userKey, seq, kind)) continue;
      if (open && open.builder.estimatedBytes() >= ctx.tableBytesTarget && !bytesEqual(userKey, lastKey!)) {
        const cut = keySuccessor(lastKey!);
        addTombstones(open, splitter.take(spanStart, cut));
        spanStart = cut;
        outputs.push(finishTable(open));
        open = undefined;
        // Bounded: wait for the oldest fsync (which also surfaces its failure now).
        if (outputs.length - synced > SYNCS_IN_FLIGHT_MAX) await outputs[synced++];
      }
      open ??= await openTable(ctx, written);
      open.builder.add(userKey, seq, kind, source.value());
      lastKey = userKey;
    }
    if (!open && splitter.remaining) open = await openTable(ctx, written);
    if (open) {
      addTombstones(open, splitter.take(spanStart, undefined));
      outputs.push(finishTable(open));
    }
    open = undefined;
    const metas = await Promise.all(outputs);
    if (metas.length > 0) await ctx.fs.syncDir(ctx.dir);
    return metas;
  } catch (err) {
    if (open) {
      open.builder.abandon();
      open.file.close();
    }
    // Let every started fsync settle (each closes its file) before removing the files.
    await Promise.allSettled(outputs);
    for (const number of written) ctx.fs.remove(joinPath(ctx.dir, tableFileName(number)));
    throw err;
  }
}

async function openTable(ctx: TableWriterContext, written: number[]): Promise<Open> {
  const number = await ctx.newFileNumber();
  written.push(number);
  const file = ctx.fs.createWritable(joinPath(ctx.dir, tableFileName(number)));
  return { number, file, builder: new TableBuilder(file, ctx.builder) };
}

function addTombstones(open: Open, parts: readonly RangeTombstone[]): void {
  for (const t of parts) open.builder.addRangeTombstone(t.start, t.end, t.seq);
}

/** Finishes the table now; the returned promise resolves once it is fsynced and closed. */
function finishTable(open: Open): Promise<FileMeta> {
  const meta = open.builder.finish();
  // Only the file and its number live on in the callbacks, not the builder and its buffers.
  const { file, number } = open;
  const done = file.sync().then(
    () => {
      file.close();
      return { number, ...meta };
    },
    (err: unknown) => {
      file.close();
      throw err;
    },
  );
  // Awaited with the others at the end; until then a failure must not count as unhandled.
  done.catch(() => {});
  return done;
}
