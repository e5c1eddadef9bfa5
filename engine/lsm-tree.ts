/**
 * The LSM tree: memtables, the WAL they are logged to, the versioned set of tables, and the
 * background work (flush, compaction) that moves data down the levels.
 *
 * Concurrency (one JS thread; what may interleave across an `await`):
 * - The write loop (db.ts) is the only caller of makeRoomForWrite/appendToWal/apply, one group
 *   at a time, so memtable rotation never races a write.
 * - Version edits run under one mutex (`work`), so they are serial. Flushes run one at a
 *   time (`flushes`), compactions one at a time (`compactions`), and each holds `work` only to
 *   log its edit: a flush never waits for a compaction to finish, so writes never wait behind
 *   one for a flush, and a compaction's edit never waits for a table to be written. A
 *   compaction runs on a worker thread (compaction-thread.ts) when the file system allows,
 *   else here, yielding to the event loop every few hundred entries.
 * - Reads are synchronous: they see one consistent (memtables, version) pair. Iterators pin
 *   their version, so the files they read are not deleted under them.
 *
 * Invariants:
 * 1. A WAL is deleted only after its memtable's table and the MANIFEST edit naming it (with a
 *    `logNumber` past the WAL) are fsynced.
 * 2. A table file is deleted only when no pinned version and no pending output names it.
 * 3. `imm` is newest first and holds at most IMMUTABLE_MEMTABLES_MAX memtables.
 */
import { DbClosedError, DbError, IoError } from './errors.ts';
import { joinPath, type FileSystem } from './fs/file-system.ts';
import type { InternalIterator } from './internal-iterator.ts';
import { LevelIterator } from './level-iterator.ts';
import { Memtable, type MemtableEntry } from './memtable/memtable.ts';
import { MergingIterator } from './merging-iterator.ts';
import { IMMUTABLE_MEMTABLES_MAX, type DbOptions } from './options.ts';
import { recover, type RecoveryReport } from './recovery.ts';
import { BlockCache } from './sst/block-cache.ts';
import { TableCache } from './sst/table-cache.ts';
import { newTableReadStats, TableReader } from './sst/table-reader.ts';
import { Mutex, yieldToEventLoop } from './util/mutex.ts';
import { Signal } from './util/signal.ts';
import { compareBytes } from './util/bytes.ts';
import { tableFileName, type FileMeta } from './version/file-meta.ts';
import { obsoleteFiles } from './version/obsolete-files.ts';
import { verifyVersion, type LsmVerifyReport } from './lsm-verify.ts';
import { ManifestWriter } from './version/manifest.ts';
import type { VersionEdit } from './version/version-edit.ts';
import { LEVEL_COUNT, type Version } from './version/version.ts';
import { WalWriter } from './wal.ts';
import { writeTables, type TableWriterContext } from './compaction/table-writer.ts';
import { isTrivialMove, runCompaction, type CompactionContext, type CompactionResult } from './compaction/compaction-job.ts';
import { CompactionThread, CompactionThreadStartError } from './compaction/compaction-thread.ts';
import { pendingCompactionBytes, pickCompaction, pickCoveredTables, planFor, type CompactionPlan } from './compaction/picker.ts';
import { FragmentedTombstones, type RangeTombstone } from './range-tombstones.ts';
import type { Bounds } from './db-iterator.ts';
import { walkBatch } from './write-batch.ts';
import { lookupInTables } from './read/table-lookup.ts';
import { getMany } from './read/get-many.ts';
import { ReadThread, type ReadThreadStartError } from './read/read-thread.ts';
import { ValueKind } from './internal-key.ts';

/** How long one write group is delayed once L0 reaches the slowdown trigger. */
const SLOWDOWN_DELAY_MS = 1;

export interface LsmCounters {
  userBytes: number;
  walBytes: number;
  flushBytes: number;
  compactionBytesRead: number;
  compactionBytesWritten: number;
  flushes: number;
  compactions: number;
  /** ... of which ran on the compaction thread. */
  threadCompactions: number;
  trivialMoves: number;
  /** Tables dropped by an edit alone, every key inside a newer range tombstone. */
  tablesDroppedByRangeDeletes: number;
  stallMs: number;
  slowdowns: number;
  stops: number;
}

export type { LsmVerifyReport };

export class LsmTree {
  mem!: Memtable;
  imm: Memtable[] = [];
  version!: Version;
  lastSequence = 0;
  /**
   * The highest sequence number held in tables: what the MANIFEST records as lastSequence.
   * Never the in-memory lastSequence, whose newest writes may sit in an unsynced WAL tail a
   * crash can drop; recording it would make recovery claim writes it does not have.
   */
  private flushedSequence = 0;
  private wal!: WalWriter;
  private manifest!: ManifestWriter;
  private logNumber = 0;
  private nextFileNumber = 1;
  private compactPointers = new Map<number, Uint8Array>();
  private readonly pinned = new Map<Version, number>();
  private readonly pendingOutputs = new Set<number>();
  private readonly work = new Mutex();
  private readonly compactions = new Mutex();
  private readonly flushes = new Mutex();
  private readonly progress = new Signal();
  private flushRunning = false;
  private compactionRunning = false;
  /** Set by a flush: the compaction loop must look again before it stops (L0 grew). */
  private compactionWanted = false;
  /** Whether `mem` or an `imm` memtable holds range tombstones: one field for get() to read. */
  private memtablesHoldRangeTombstones = false;
  /** Set when tables are added while some hold range tombstones: look for tables they cover. */
  private coveredTablesWanted = false;
  /**
   * Where compactions run when not here; undefined for a file system only this thread sees,
   * with `compactionThread: false`, or once the thread failed to start.
   */
  private thread: CompactionThread | undefined;
  /** Why the compaction thread is not used although asked for (it failed to start). */
  compactionThreadError: string | undefined;

  /** Whether compactions go to the compaction thread now. */
  get usesCompactionThread(): boolean {
    return this.thread !== undefined;
  }
  /** Where getMany sends part of its lookups; undefined as for `thread`, with `readThread: false`. */
  readThread: ReadThread | undefined;
  /** Why the read thread is not used although asked for (it failed to start). */
  readThreadError: string | undefined;
  private closing = false;
  backgroundError: DbError | undefined;
  readonly blockCache: BlockCache;
  readonly tables: TableCache;
  readonly readStats = newTableReadStats();
  readonly counters: LsmCounters = {
    userBytes: 0,
    walBytes: 0,
    flushBytes: 0,
    compactionBytesRead: 0,
    compactionBytesWritten: 0,
    flushes: 0,
    compactions: 0,
    threadCompactions: 0,
    trivialMoves: 0,
    tablesDroppedByRangeDeletes: 0,
    stallMs: 0,
    slowdowns: 0,
    stops: 0,
  };
  recoveryReport!: RecoveryReport;

  constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly options: DbOptions,
    private readonly liveSnapshots: () => number[],
  ) {
    // With a read thread, the block cache budget is split between the two threads.
    const readThread = options.readThread && fs.sharedWithWorkers;
    const threadCacheBytes = readThread ? Math.floor(options.blockCacheBytes / 2) : 0;
    this.blockCache = new BlockCache(options.blockCacheBytes - threadCacheBytes);
    this.tables = new TableCache(options.tableCacheFilesMax, (n) => this.openTable(n), this.blockCache);
    this.thread = options.compactionThread && fs.sharedWithWorkers ? new CompactionThread(dir, { tableCacheFilesMax: options.tableCacheFilesMax }) : undefined;
    // The thread reads the upper part of each batch's keys, so half the tables serve it.
    const threadTables = Math.max(1, Math.floor(options.tableCacheFilesMax / 2));
    this.readThread = readThread ? new ReadThread(dir, { tableCacheFilesMax: threadTables, blockCacheBytes: threadCacheBytes }, this.readStats) : undefined;
  }

  private openTable(number: number): TableReader {
    return TableReader.open(this.fs.openReadable(joinPath(this.dir, tableFileName(number))), number, this.blockCache, this.readStats);
  }

  /** Recovers the directory: MANIFEST, WAL replay into L0 tables, a fresh MANIFEST and WAL. */
  async open(): Promise<void> {
    const state = recover(this.fs, this.dir, this.options.skipWalCorruption);
    this.recoveryReport = state.report;
    this.version = state.version;
    this.lastSequence = state.lastSequence;
    this.nextFileNumber = state.nextFileNumber;
    this.compactPointers = state.compactPointers;
    // Replayed memtables become L0 tables now, so the old WALs can go (as LevelDB does).
    for (const mem of state.memtables) {
      const metas = await this.writeMemtable(mem);
      this.version = this.version.apply({ newFiles: metas.map((m) => [0, m]) });
    }
    const walNumber = this.nextFileNumber++;
    const manifestNumber = this.nextFileNumber++;
    this.logNumber = walNumber;
    this.mem = new Memtable(walNumber);
    // MANIFEST and CURRENT first: a WAL with no CURRENT beside it would read as a lost CURRENT.
    this.manifest = await ManifestWriter.create(this.fs, this.dir, manifestNumber, {
      ...this.version.toEdit(),
      logNumber: this.logNumber,
      nextFileNumber: this.nextFileNumber,
      lastSequence: this.lastSequence,
      compactPointers: [...this.compactPointers],
    });
    this.pendingOutputs.clear();
    this.flushedSequence = this.lastSequence;
    this.wal = await WalWriter.create(this.fs, this.dir, walNumber);
    this.coveredTablesWanted = this.version.hasRangeTombstones;
    this.deleteObsoleteFiles();
    this.scheduleBackground();
  }

  // ---- reads ----

  /**
   * The newest version of `userKey` at or below `seq`, from memtables then tables; undefined
   * when there is none or a range tombstone hides it.
   */
  get(userKey: Uint8Array, seq: number): MemtableEntry | undefined {
    if (this.mayHoldRangeTombstones()) return this.getUnderRangeTombstones(userKey, seq);
    return this.memtableGet(userKey, seq) ?? lookupInTables(this.version, this.tables, userKey, seq);
  }

  /** The newest version of `userKey` at or below `seq` in the memtables only (range tombstones not weighed). */
  memtableGet(userKey: Uint8Array, seq: number): MemtableEntry | undefined {
    const entry = this.mem.get(userKey, seq);
    if (entry) return entry;
    for (const mem of this.imm) {
      const older = mem.get(userKey, seq);
      if (older) return older;
    }
    return undefined;
  }

  /** Values of many keys at `seq`, part of them looked up on the read thread (read/get-many.ts). */
  getMany(keys: readonly Uint8Array[], seq: number, copy: (value: Uint8Array) => Uint8Array): Promise<Array<Uint8Array | undefined>> {
    return getMany(this, keys, seq, copy);
  }

  pinVersion(): Version {
    return this.pin();
  }

  unpinVersion(version: Version): void {
    this.unpin(version);
  }

  readThreadFailed(err: ReadThreadStartError): void {
    const thread = this.readThread;
    if (thread === undefined) return;
    this.readThread = undefined;
    this.readThreadError = String((err.cause as Error | undefined)?.message ?? err.cause);
    void thread.close();
  }

  /** Whether any memtable or table holds a range tombstone (otherwise reads skip the checks). */
  mayHoldRangeTombstones(): boolean {
    return this.memtablesHoldRangeTombstones || this.version.hasRangeTombstones;
  }

  /** Recomputes `memtablesHoldRangeTombstones` after the memtables changed. */
  private noteMemtableTombstones(): void {
    let any = this.mem.rangeTombstones.length > 0;
    for (const mem of this.imm) any ||= mem.rangeTombstones.length > 0;
    this.memtablesHoldRangeTombstones = any;
  }

  /**
   * get() when range tombstones exist. Sources are read newest first, as in get(), keeping the
   * newest tombstone seen so far that covers the key; the first version found is hidden if that
   * tombstone is newer. Tombstones further down need no look: a source below holds only older
   * versions of this key, and tombstones older than them (level invariants, compaction.md).
   */
  private getUnderRangeTombstones(userKey: Uint8Array, seq: number): MemtableEntry | undefined {
    let covered = 0;
    const visible = (entry: MemtableEntry) => (entry.seq < covered ? undefined : entry);
    for (let m = -1; m < this.imm.length; m++) {
      const mem = m < 0 ? this.mem : this.imm[m]!;
      covered = Math.max(covered, mem.rangeTombstoneSeq(userKey, seq));
      const entry = mem.get(userKey, seq);
      if (entry) return visible(entry);
    }
    const version = this.version;
    for (let level = 0; level < LEVEL_COUNT; level++) {
      const files = version.levels[level]!;
      // L0's files overlap, newest first; deeper levels have at most one file for a key.
      const from = level === 0 ? 0 : version.findFile(level, userKey);
      const to = level === 0 ? files.length : Math.min(from + 1, files.length);
      for (let i = from; i < to; i++) {
        const f = files[i]!;
        if (compareBytes(userKey, f.smallest.userKey) < 0 || compareBytes(userKey, f.largest.userKey) > 0) continue;
        if ((f.rangeTombstones ?? 0) > 0) covered = Math.max(covered, this.tables.rangeTombstoneSeq(f.number, userKey, seq));
        const entry = this.tables.get(f.number, userKey, seq);
        if (entry) return visible(entry);
      }
    }
    return undefined;
  }

  /**
   * A merged iterator over everything, the function that releases what it pins, and the range
   * tombstones visible at `readSeq` that may touch `bounds` (undefined when there are none).
   */
  newIterator(readSeq: number, bounds: Bounds = {}): { iterator: InternalIterator; release: () => void; tombstones: FragmentedTombstones | undefined } {
    const version = this.pin();
    const children: InternalIterator[] = [this.mem.iterator(), ...this.imm.map((m) => m.iterator())];
    const readers = version.levels[0]!.map((f) => this.tables.acquire(f.number));
    for (const r of readers) children.push(r.iterator());
    const levels: LevelIterator[] = [];
    for (let level = 1; level < LEVEL_COUNT; level++) {
      if (version.levels[level]!.length > 0) levels.push(new LevelIterator(version.levels[level]!, this.tables));
    }
    children.push(...levels);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const l of levels) l.close();
      for (const r of readers) this.tables.release(r);
      this.unpin(version);
    };
    const tombstones = this.mayHoldRangeTombstones() ? this.visibleTombstones(version, readSeq, bounds) : undefined;
    return { iterator: new MergingIterator(children), release, tombstones };
  }

  /** Every range tombstone at or below `readSeq` that may cover a key within `bounds`, fragmented. */
  private visibleTombstones(version: Version, readSeq: number, bounds: Bounds): FragmentedTombstones | undefined {
    const { lower, upper } = bounds;
    const all: RangeTombstone[] = [];
    const take = (list: readonly RangeTombstone[]) => {
      for (const t of list) {
        if (t.seq > readSeq || (lower !== undefined && compareBytes(t.end, lower) <= 0) || (upper !== undefined && compareBytes(t.start, upper) > 0)) continue;
        all.push(t);
      }
    };
    take(this.mem.rangeTombstones);
    for (const mem of this.imm) take(mem.rangeTombstones);
    for (let level = 0; level < LEVEL_COUNT; level++) {
      for (const f of version.overlapping(level, lower, upper)) if ((f.rangeTombstones ?? 0) > 0) take(this.tables.rangeTombstones(f.number));
    }
    return all.length === 0 ? undefined : FragmentedTombstones.from(all);
  }

  private pin(): Version {
    const v = this.version;
    this.pinned.set(v, (this.pinned.get(v) ?? 0) + 1);
    return v;
  }

  private unpin(v: Version): void {
    const n = this.pinned.get(v)! - 1;
    if (n > 0) this.pinned.set(v, n);
    else {
      this.pinned.delete(v);
      if (v !== this.version && !this.closing) this.deleteObsoleteFiles();
    }
  }

  // ---- writes (called only by the write loop) ----

  /** Waits until the memtable has room, freezing it and starting a new WAL when it is full. */
  async makeRoomForWrite(): Promise<void> {
    let slowed = false;
    for (;;) {
      if (this.backgroundError) throw this.backgroundError;
      const l0 = this.version.fileCount(0);
      const pending = pendingCompactionBytes(this.version, this.options);
      if (!slowed && (l0 >= this.options.l0SlowdownTrigger || pending >= this.options.pendingCompactionBytesSlowdown)) {
        slowed = true;
        this.counters.slowdowns++;
        await this.stall(new Promise((resolve) => setTimeout(resolve, SLOWDOWN_DELAY_MS)));
        continue;
      }
      if (this.mem.bytes < this.options.memtableBytes) return;
      if (this.imm.length >= IMMUTABLE_MEMTABLES_MAX || l0 >= this.options.l0StopTrigger || pending >= this.options.pendingCompactionBytesStop) {
        this.counters.stops++;
        this.scheduleBackground();
        await this.stall(this.progress.wait());
        continue;
      }
      await this.rotateMemtable();
    }
  }

  private async stall(wait: Promise<unknown>): Promise<void> {
    const started = performance.now();
    await wait;
    this.counters.stallMs += performance.now() - started;
  }

  private async rotateMemtable(): Promise<void> {
    const number = this.nextFileNumber++;
    const wal = await WalWriter.create(this.fs, this.dir, number);
    // Sync the old WAL before any write lands in the new one: otherwise a crash could keep a
    // synced write in the new WAL and drop older unsynced ones in the old, leaving a gap
    // where the survivors must be a prefix of the write order.
    await this.wal.sync();
    this.wal.close();
    this.wal = wal;
    this.imm.unshift(this.mem);
    // Writes usually go on as they were: size the next memtable's skiplist like this one.
    this.mem = new Memtable(number, this.mem.count);
    // A first flush means compactions are coming: have the thread load meanwhile (a no-op once started).
    this.thread?.warm();
    this.scheduleBackground();
  }

  appendToWal(record: Uint8Array): void {
    this.wal.append(record);
    this.counters.walBytes += record.length;
  }

  syncWal(): Promise<void> {
    return this.wal.sync();
  }

  get walNumber(): number {
    return this.wal.number;
  }

  get walBytes(): number {
    return this.wal.bytes();
  }

  /**
   * Applies a committed batch to the memtable straight from its encoded WAL record, which the
   * memtable keeps: no per-op views or objects (see write-batch.ts, walkBatch). Returns the
   * record's first sequence number.
   */
  applyRecord(record: Uint8Array, fileName: string, userBytes: number): number {
    const mem = this.mem;
    let count = 0;
    const first = walkBatch(record, fileName, (seq, kind, keyAt, keyLength, valueAt, valueLength) => {
      mem.addFrom(record, keyAt, keyLength, seq, kind, record, valueAt, valueLength);
      if (kind === ValueKind.RangeDelete) this.memtablesHoldRangeTombstones = true;
      count++;
    });
    this.lastSequence = first + count - 1;
    // An empty batch (advanceSequence) moves the sequence with no entry; the memtable must
    // still carry it, so the flush that retires its WAL records it in the MANIFEST.
    if (this.lastSequence > this.mem.seqMax) this.mem.seqMax = this.lastSequence;
    this.counters.userBytes += userBytes;
    return first;
  }

  // ---- background work ----

  /** Starts the flush loop if a memtable is frozen, and the compaction loop, unless running. */
  private scheduleBackground(): void {
    if (this.backgroundError) return;
    if (!this.flushRunning && this.imm.length > 0) {
      this.flushRunning = true;
      void this.flushLoop();
    }
    if (!this.compactionRunning && !this.closing) {
      this.compactionRunning = true;
      void this.compactionLoop();
    }
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.imm.length > 0 && !this.backgroundError) {
        await yieldToEventLoop();
        await this.flushes.run(async () => {
          if (this.imm.length > 0) await this.flushOldest();
        });
        // A new L0 table may make a compaction due; a running loop that found none looks again.
        this.compactionWanted = true;
        if (!this.compactionRunning && !this.closing) this.scheduleBackground();
      }
    } catch (err) {
      this.failBackground(err);
    } finally {
      this.flushRunning = false;
      this.progress.notifyAll();
    }
  }

  private async compactionLoop(): Promise<void> {
    try {
      for (;;) {
        await yieldToEventLoop();
        if (this.closing || this.backgroundError) break;
        this.compactionWanted = false;
        const didWork = await this.compactions.run(async () => {
          if (this.coveredTablesWanted && (await this.dropCoveredTables()) > 0) return true;
          const plan = pickCompaction(this.version, this.options, this.compactPointers);
          if (!plan) return false;
          await this.compact(plan, true);
          return true;
        });
        if (!didWork) break;
      }
    } catch (err) {
      this.failBackground(err);
    } finally {
      this.compactionRunning = false;
      this.progress.notifyAll();
    }
    if (this.compactionWanted) this.scheduleBackground();
  }

  private failBackground(err: unknown): void {
    this.backgroundError ??= err instanceof DbError ? err : new IoError('lsm: background work failed', { cause: err });
  }

  /**
   * Writes the oldest frozen memtable to L0 and drops its WAL. Runs under `flushes`, taking
   * `work` only to log the edit, so a compaction's edit never waits for a table to be written.
   */
  private async flushOldest(): Promise<void> {
    const mem = this.imm[this.imm.length - 1]!;
    const metas = await this.writeMemtable(mem);
    await this.work.run(async () => {
      // WALs from the next memtable on still hold unflushed writes.
      const logNumber = this.imm.length >= 2 ? this.imm[this.imm.length - 2]!.walNumber : this.mem.walNumber;
      this.flushedSequence = Math.max(this.flushedSequence, mem.seqMax);
      await this.logAndApply({ newFiles: metas.map((m) => [0, m]), logNumber });
    });
    this.imm.pop();
    this.noteMemtableTombstones();
    this.counters.flushes++;
    for (const m of metas) this.counters.flushBytes += m.fileBytes;
    this.finishOutputs(metas);
  }

  private async writeMemtable(mem: Memtable): Promise<FileMeta[]> {
    const it = mem.iterator();
    it.seekToFirst();
    // A flush makes one table, whatever its size: L0 files are counted, not sized.
    // It only yields in its pauses: a flush must not start another flush of the same memtable.
    // Every tombstone is kept, as every entry is; fragmenting merges none away, it only normalizes.
    const tombstones = FragmentedTombstones.from(mem.rangeTombstones).coalesce();
    return writeTables({ ...this.writerContext(), tableBytesTarget: Number.MAX_SAFE_INTEGER, pause: yieldToEventLoop }, it, () => true, tombstones);
  }

  /** Where flushes and compactions write; `allocated` collects the file numbers handed out. */
  private writerContext(allocated?: number[]): TableWriterContext {
    return {
      fs: this.fs,
      dir: this.dir,
      builder: { blockBytes: this.options.blockBytes, bloomBitsPerKey: this.options.bloomBitsPerKey },
      tableBytesTarget: this.options.tableBytesTarget,
      newFileNumber: () => {
        const n = this.nextFileNumber++;
        this.pendingOutputs.add(n);
        allocated?.push(n);
        return n;
      },
      // The flush loop runs in these breaks, so a frozen memtable never waits for a compaction.
      pause: yieldToEventLoop,
    };
  }

  /**
   * Drops, by one version edit and without reading them, the tables that range tombstones
   * hide from every reader (picker.ts, pickCoveredTables). Runs under `compactions`, taking
   * `work` to log the edit; returns how many it dropped.
   */
  private async dropCoveredTables(): Promise<number> {
    this.coveredTablesWanted = false;
    const version = this.version;
    if (!version.hasRangeTombstones) return 0;
    const covered = pickCoveredTables(version, (f) => this.tables.rangeTombstones(f.number), this.liveSnapshots());
    if (covered.length === 0) return 0;
    await this.work.run(() => this.logAndApply({ deletedFiles: covered.map(([level, f]) => [level, f.number]) }));
    this.counters.tablesDroppedByRangeDeletes += covered.length;
    this.finishOutputs([]);
    return covered.length;
  }

  /**
   * Runs one compaction plan (on the compaction thread unless it is a trivial move or there is
   * none) and installs its result. Runs under `compactions`, taking `work` to log the edit.
   */
  private async compact(plan: CompactionPlan, allowTrivialMove: boolean): Promise<CompactionResult> {
    const allocated: number[] = [];
    const writer = this.writerContext(allocated);
    const snapshots = this.liveSnapshots();
    let result: CompactionResult | undefined;
    try {
      if (this.thread && !isTrivialMove(plan, allowTrivialMove)) result = await this.runOnThread(this.thread, plan, { writer, version: this.version, snapshots, allowTrivialMove });
      if (result) this.counters.threadCompactions++;
      else result = await runCompaction(plan, { writer, version: this.version, tables: this.tables, snapshots, allowTrivialMove });
      const edit = result.edit;
      await this.work.run(() => this.logAndApply(edit));
    } finally {
      // Outputs are in the version now (or, on failure, deleted or garbage for the next sweep).
      for (const n of allocated) this.pendingOutputs.delete(n);
    }
    if (result.trivialMove) this.counters.trivialMoves++;
    else this.counters.compactions++;
    this.counters.compactionBytesRead += result.bytesRead;
    this.counters.compactionBytesWritten += result.bytesWritten;
    this.finishOutputs(result.outputs);
    return result;
  }

  /**
   * A compaction on the thread; undefined when the thread could not start, which turns it off
   * for this database: the job never ran, and the caller runs it here instead.
   */
  private async runOnThread(thread: CompactionThread, plan: CompactionPlan, ctx: Omit<CompactionContext, 'tables'>): Promise<CompactionResult | undefined> {
    try {
      return await thread.run(plan, ctx);
    } catch (err) {
      if (!(err instanceof CompactionThreadStartError)) throw err;
      this.thread = undefined;
      this.compactionThreadError = String((err.cause as Error | undefined)?.message ?? err.cause);
      await thread.close();
      return undefined;
    }
  }

  private finishOutputs(outputs: FileMeta[]): void {
    for (const m of outputs) this.pendingOutputs.delete(m.number);
    this.progress.notifyAll();
    this.deleteObsoleteFiles();
  }

  /** Makes `edit` durable in the MANIFEST, then installs it. Runs under `work`. */
  private async logAndApply(edit: VersionEdit): Promise<void> {
    edit.nextFileNumber = this.nextFileNumber;
    edit.lastSequence = this.flushedSequence;
    if (edit.logNumber !== undefined) this.logNumber = Math.max(this.logNumber, edit.logNumber);
    const next = this.version.apply(edit);
    await this.manifest.append(edit);
    for (const [level, key] of edit.compactPointers ?? []) this.compactPointers.set(level, key);
    this.version = next;
    // A new table may hold tombstones, or sit under old ones; snapshots released since may
    // unblock a drop. Looking costs a walk over the tables holding tombstones.
    if (next.hasRangeTombstones && (edit.newFiles ?? []).length > 0) this.coveredTablesWanted = true;
  }

  /**
   * Freezes the memtable so the next flush takes it. Only the write loop may call this, between
   * groups: a rotation between a group's WAL append and its memtable apply would put the
   * group's writes in a memtable whose WAL does not hold them.
   */
  async freezeMemtable(): Promise<void> {
    if (!this.mem.isEmpty) await this.rotateMemtable();
  }

  /**
   * Flushes every frozen memtable, then compacts level by level until all data is in one
   * level, and rewrites that level's tables still holding tombstones; resolves once the
   * replaced files are deleted, so their space is free (but for files an open iterator or
   * snapshot's version still pins: they go when it is released).
   */
  async compactRange(): Promise<void> {
    await this.flushes.run(async () => {
      this.checkNotClosing();
      while (this.imm.length > 0) await this.flushOldest();
    });
    await this.compactions.run(async () => {
      this.checkNotClosing();
      await this.dropCoveredTables();
    });
    for (let level = 0; level < LEVEL_COUNT - 1; level++) {
      await this.compactions.run(async () => {
        // close() waits for a step already queued; a later one must not run on closed files.
        this.checkNotClosing();
        if (this.backgroundError) throw this.backgroundError;
        const files = this.version.levels[level]!;
        const deepest = this.deepestLevel();
        if (files.length === 0 || level >= deepest && level > 0) return;
        await this.compact(planFor(this.version, level, [...files], 0), false);
      });
    }
    await this.rewriteBottomTombstones();
    await this.fs.drain();
  }

  /**
   * The last step of compactRange: tables of the deepest level that still hold tombstones (kept
   * for a snapshot when they reached the bottom) are rewritten in place, one at a time, so what
   * no reader needs any more goes. One table at a time: its output stays within its key range,
   * so the level's tables stay disjoint.
   */
  private async rewriteBottomTombstones(): Promise<void> {
    const level = this.deepestLevel();
    if (level === 0) return;
    for (const file of [...this.version.levels[level]!]) {
      if (file.tombstones === 0 && (file.rangeTombstones ?? 0) === 0) continue;
      await this.compactions.run(async () => {
        this.checkNotClosing();
        if (this.backgroundError) throw this.backgroundError;
        if (!this.version.levels[level]!.includes(file)) return;
        await this.compact({ level, inputs: [file], nextInputs: [], outputLevel: level, score: 0 }, false);
      });
    }
  }

  private checkNotClosing(): void {
    if (this.closing) throw new DbClosedError('lsm: the database closed during compactRange');
  }

  private deepestLevel(): number {
    for (let level = LEVEL_COUNT - 1; level >= 0; level--) if (this.version.levels[level]!.length > 0) return level;
    return 0;
  }

  /** Deletes files that nothing needs (version/obsolete-files.ts says which). */
  private deleteObsoleteFiles(): void {
    const tables = new Set(this.version.fileNumbers());
    for (const v of this.pinned.keys()) for (const n of v.fileNumbers()) tables.add(n);
    for (const n of this.pendingOutputs) tables.add(n);
    const wals = new Set([this.mem.walNumber, ...this.imm.map((m) => m.walNumber)]);
    const live = { tables, wals, logNumber: this.logNumber, manifestNumber: this.manifest.number };
    for (const file of obsoleteFiles(this.fs.list(this.dir), live)) {
      if (file.tableNumber !== undefined) this.tables.evict(file.tableNumber);
      this.fs.removeSoon(joinPath(this.dir, file.name));
    }
  }

  /** Stops background work after the current step and closes every file. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.flushRunning || this.compactionRunning) await this.progress.wait();
    await this.compactions.run(async () => {});
    await this.flushes.run(async () => {});
    await this.work.run(async () => {});
    await this.thread?.close();
    await this.readThread?.close();
    await this.fs.drain();
    this.wal.close();
    this.manifest.close();
    this.tables.close();
  }

  /** Checks every table of the current version; see lsm-verify.ts. */
  verify(): LsmVerifyReport {
    const version = this.pin();
    try {
      return verifyVersion(version, this.tables);
    } finally {
      this.unpin(version);
    }
  }

  levelSummary(): Array<{ level: number; files: number; bytes: number }> {
    return this.version.levels.map((files, level) => ({ level, files: files.length, bytes: this.version.levelBytes(level) }));
  }

  /**
   * Live keys, estimated as RocksDB's `estimate-num-keys` does: entries in the memtables and
   * tables, less two per point tombstone (it hides one entry and is one). Overwritten keys not
   * yet compacted away count more than once; range deletions are not subtracted.
   */
  keysEstimate(): number {
    let entries = this.mem.count + this.imm.reduce((n, m) => n + m.count, 0);
    for (const files of this.version.levels) for (const f of files) entries += f.entries - 2 * f.tombstones;
    return Math.max(0, entries);
  }
}

