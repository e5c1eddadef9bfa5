/**
 * The database: the public API over the LSM tree.
 *
 * Concurrency (one JS thread; what may interleave across an `await`):
 * - Writes go through one queue and one write loop (group commit): the loop takes every
 *   waiting writer, appends their batches to the WAL as one record, fsyncs once if any asked
 *   for sync, applies them to the memtable, then publishes the new last sequence number.
 *   Reads therefore never see a write before it is acknowledged-durable as asked.
 * - Reads are synchronous against an immutable view (memtable list + version) taken at the
 *   start, so they never block on writes, flushes or compactions.
 * - `close()` stops new calls at once, waits for the write loop and background work, then
 *   releases the lock.
 *
 * Invariants:
 * 1. Every op's sequence number is unique and larger than any before it.
 * 2. `lastSequence` only covers writes already applied to the memtable.
 * 3. After a failed WAL append or fsync (`backgroundError`), no further write is accepted:
 *    the log may hold a partial record, and appending past it would bury it mid-file.
 */
import { checkBatch, checkIteratorOptions, checkKey, checkKeys, checkRange, checkSyncOption, checkValue, type BatchOperation, type IteratorOptions, type KeyLike, type KeyRange } from './db-arguments.ts';
import { DbIterator } from './db-iterator.ts';
import { EntryIterator } from './entry-iterator.ts';
import { DbClosedError, DbError, InvalidArgumentError, IoError, NotFoundError } from './errors.ts';
import { joinPath, type FileLock, type FileSystem } from './fs/file-system.ts';
import { NodeFileSystem } from './fs/node-file-system.ts';
import { ValueKind } from './internal-key.ts';
import { LsmTree, type LsmVerifyReport } from './lsm-tree.ts';
import { resolveOptions, type DbOptions } from './options.ts';
import { Snapshot, SnapshotRegistry } from './snapshot.ts';
import { ByteSlab } from './util/byte-slab.ts';
import { Signal } from './util/signal.ts';
import { parseFileName, walFileName } from './version/file-meta.ts';
import { decodeBatch, encodeBatchInto, encodedBatchBytes, type BatchOp } from './write-batch.ts';

/** Options accepted by `Db.open`: the engine options plus the file-system seam. */
export type DbOpenOptions = Partial<DbOptions> & { fileSystem?: FileSystem };

export interface WriteOptions {
  sync?: boolean;
}

export interface ReadOptions {
  snapshot?: Snapshot;
}

/** A committed batch as replication sees it: its first sequence number and encoded bytes. */
export type CommitListener = (firstSeq: number, lastSeq: number, encodedBatch: Uint8Array) => void;

interface Writer {
  ops: BatchOp[];
  sync: boolean;
  /** A request to freeze the memtable (compactRange), handled alone between groups. */
  freeze?: boolean;
  /** A replicated batch: its ops keep the leader's sequence numbers, starting here. */
  replicatedSeq?: number;
  resolve(seq: number): void;
  reject(err: unknown): void;
}

/** Where the copies get() returns come from (see util/byte-slab.ts). */
const valueCopies = new ByteSlab();

/** A group is cut at this many bytes of ops so one huge queue does not make one huge record. */
const GROUP_BYTES_MAX = 1024 * 1024;

export class Db {
  private tree!: LsmTree;
  private lock!: FileLock;
  private readonly queue: Writer[] = [];
  private writing = false;
  private readonly writeIdle = new Signal();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly snapshots = new SnapshotRegistry();
  private readonly listeners = new Set<CommitListener>();
  private readonly counters = { writeGroups: 0, writesGrouped: 0, walSyncs: 0 };
  /** Where committed records are encoded (see util/byte-slab.ts). */
  private readonly records = new ByteSlab();

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
    readonly options: DbOptions,
  ) {}

  /** Opens (creating if allowed) the database in `dir`, recovering it after any crash. */
  static async open(dir: string, options?: DbOpenOptions): Promise<Db> {
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`dir must be a non-empty string, got ${JSON.stringify(dir)}`);
    const { fileSystem, ...engineOptions } = options ?? {};
    const db = new Db(fileSystem ?? new NodeFileSystem(), dir.replace(/\/+$/, '') || '/', resolveOptions(engineOptions));
    await db.openDirectory();
    return db;
  }

  /**
   * Deletes a database's files (LevelDB's DestroyDB): every file the engine names (tables,
   * WALs, MANIFESTs, CURRENT, temporaries), then LOCK. Files it does not recognise, and the
   * directory itself, are left. Fails with DB_LOCKED if the database is open.
   */
  static async destroy(dir: string, options?: { fileSystem?: FileSystem }): Promise<void> {
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`dir must be a non-empty string, got ${JSON.stringify(dir)}`);
    const fs = options?.fileSystem ?? new NodeFileSystem();
    if (!fs.exists(dir)) return;
    const lock = fs.lock(joinPath(dir, 'LOCK'));
    try {
      for (const name of fs.list(dir)) {
        const parsed = parseFileName(name);
        if (parsed && parsed.type !== 'lock') fs.remove(joinPath(dir, name));
      }
      // Removed while still held: an opener that raced for the old file finds it replaced (fs/file-lock.ts).
      fs.remove(joinPath(dir, 'LOCK'));
      await fs.syncDir(dir);
    } finally {
      lock.release();
    }
  }

  private async openDirectory(): Promise<void> {
    const { fs, dir } = this;
    if (!fs.exists(dir)) {
      if (!this.options.createIfMissing) throw new NotFoundError(`db: ${JSON.stringify(dir)} does not exist and createIfMissing is false`);
      fs.mkdirp(dir);
    }
    this.lock = fs.lock(joinPath(dir, 'LOCK'));
    try {
      this.tree = new LsmTree(fs, dir, this.options, () => this.snapshots.list());
      await this.tree.open();
    } catch (err) {
      this.lock.release();
      throw err;
    }
  }

  /** The sequence number of the newest acknowledged write (0 for an empty database). */
  get lastSequence(): number {
    return this.tree.lastSequence;
  }

  /** Writes `key` = `value`; resolves to the write's sequence number once it is in the WAL. */
  put(key: KeyLike, value: KeyLike, options?: WriteOptions): Promise<number> {
    try {
      const op = { kind: ValueKind.Put, key: checkKey(key, this.options), value: checkValue(value, this.options) };
      return this.enqueue([op], checkSyncOption(options, this.options.sync));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Deletes `key`; resolves to the delete's sequence number. Deleting a missing key is fine. */
  delete(key: KeyLike, options?: WriteOptions): Promise<number> {
    try {
      const op = { kind: ValueKind.Delete, key: checkKey(key, this.options), value: new Uint8Array(0) };
      return this.enqueue([op], checkSyncOption(options, this.options.sync));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Deletes every key k with `gte <= k < lt` (a range tombstone: one write, whatever the number
   * of keys); resolves to its sequence number. Reads stop seeing the keys at once; their space
   * is reclaimed by compactions (whole tables inside the range are dropped unread).
   *
   * @example
   * ```ts
   * await db.deleteRange({ gte: 'user:', lt: 'user;' }, { sync: true });
   * ```
   */
  deleteRange(range: KeyRange, options?: WriteOptions): Promise<number> {
    try {
      const op = checkRange(range, this.options, 'deleteRange');
      return this.enqueue([op], checkSyncOption(options, this.options.sync));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Applies every operation or none; resolves to the sequence number of the last one. */
  batch(operations: BatchOperation[], options?: WriteOptions): Promise<number> {
    try {
      const ops = checkBatch(operations, this.options);
      if (ops.length === 0) {
        this.checkOpen();
        return Promise.resolve(this.tree.lastSequence);
      }
      return this.enqueue(ops, checkSyncOption(options, this.options.sync));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The value of `key`, or undefined if it is absent or deleted (at the snapshot, if given). */
  async get(key: KeyLike, options?: ReadOptions): Promise<Uint8Array | undefined> {
    this.checkOpen();
    const userKey = checkKey(key, this.options);
    return this.valueAt(userKey, this.snapshots.resolve(options?.snapshot, this.tree.lastSequence));
  }

  /**
   * The values of `keys`, in order (undefined where absent or deleted), all read at one
   * sequence number (the snapshot's, if given). One call and one promise for the lot: the
   * reads are synchronous inside, so a batch costs no per-key promise. At most batchOpsMax keys.
   */
  async getMany(keys: readonly KeyLike[], options?: ReadOptions): Promise<Array<Uint8Array | undefined>> {
    this.checkOpen();
    const userKeys = checkKeys(keys, this.options);
    const seq = this.snapshots.resolve(options?.snapshot, this.tree.lastSequence);
    const out: Array<Uint8Array | undefined> = new Array(userKeys.length);
    for (let i = 0; i < userKeys.length; i++) out[i] = this.valueAt(userKeys[i]!, seq);
    return out;
  }

  /** A copy of the value of `userKey` at `seq`, or undefined if absent or deleted. */
  private valueAt(userKey: Uint8Array, seq: number): Uint8Array | undefined {
    const entry = this.tree.get(userKey, seq);
    return entry?.kind === ValueKind.Put ? valueCopies.copy(entry.value) : undefined;
  }

  /** Pins reads to the current state until `release()`. */
  snapshot(): Snapshot {
    this.checkOpen();
    return this.snapshots.create(this.tree.lastSequence);
  }

  /**
   * Entries in bytewise key order (or reverse), within bounds, at a snapshot: an async
   * iterator that also reads in batches (`nextBatch`) and seeks (see entry-iterator.ts).
   */
  iterator(options?: IteratorOptions<Snapshot>): EntryIterator {
    return new EntryIterator({
      checkOpen: () => this.checkOpen(),
      open: () => {
        this.checkOpen();
        const { bounds, reverse, limit, snapshot } = checkIteratorOptions<Snapshot>(options);
        const seq = this.snapshots.resolve(snapshot, this.tree.lastSequence);
        const { iterator, release, tombstones } = this.tree.newIterator(seq, bounds);
        return { cursor: new DbIterator(iterator, seq, bounds, reverse, limit, tombstones), release };
      },
    });
  }

  /**
   * Applies a batch shipped from a leader (encoded as in docs/formats/wal.md), keeping its
   * sequence numbers; range deletions included. Idempotent: ops at or below `lastSequence` are skipped, so applying a
   * batch twice is harmless. A batch that starts past `lastSequence + 1` leaves a gap and is
   * INVALID_ARGUMENT. Resolves to the new `lastSequence`.
   */
  applyBatch(encodedBatch: Uint8Array, options?: WriteOptions): Promise<number> {
    try {
      this.checkOpen();
      if (!(encodedBatch instanceof Uint8Array)) throw new InvalidArgumentError('applyBatch: batch must be a Uint8Array');
      let batch;
      try {
        batch = decodeBatch(encodedBatch, 'replicated batch');
      } catch (cause) {
        throw new InvalidArgumentError(`applyBatch: malformed batch (${(cause as Error).message})`, { cause });
      }
      for (const op of batch.ops) {
        if (op.kind === ValueKind.RangeDelete) checkRange({ gte: op.key, lt: op.value }, this.options, 'applyBatch');
        else checkKey(op.key, this.options);
        if (op.kind === ValueKind.Put) checkValue(op.value, this.options);
      }
      const sync = checkSyncOption(options, this.options.sync);
      return new Promise<number>((resolve, reject) => this.push({ ops: batch.ops, sync, replicatedSeq: batch.seq, resolve, reject }));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Moves `lastSequence` up to `seq` without writing data, durably: a follower that installed
   * a leader's snapshot taken at `seq` resumes the log stream from `seq + 1`.
   */
  advanceSequence(seq: number, options?: WriteOptions): Promise<number> {
    if (!Number.isSafeInteger(seq) || seq < 0) return Promise.reject(new InvalidArgumentError(`advanceSequence: ${String(seq)} is not a sequence number`));
    try {
      this.checkOpen();
      const sync = checkSyncOption(options, this.options.sync);
      return new Promise<number>((resolve, reject) => this.push({ ops: [], sync, replicatedSeq: seq + 1, resolve, reject }));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Calls `listener` after each committed group, in commit order (for replication). */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Flushes the memtable and compacts every level into one, dropping what no reader needs. */
  async compactRange(): Promise<void> {
    this.checkOpen();
    await new Promise<number>((resolve, reject) => this.push({ ops: [], sync: false, freeze: true, resolve, reject }));
    await this.tree.compactRange();
  }

  /** Checks every table's checksums and key order, and the level invariants. */
  async verify(): Promise<LsmVerifyReport> {
    this.checkOpen();
    return this.tree.verify();
  }

  /** Counters and shape of the LSM tree; see docs/architecture.md for each figure. */
  stats() {
    const tree = this.tree;
    const c = tree.counters;
    const cache = tree.blockCache;
    const diskBytesWritten = c.walBytes + c.flushBytes + c.compactionBytesWritten;
    return {
      lastSequence: tree.lastSequence,
      levels: tree.levelSummary(),
      memtableBytes: tree.mem.bytes,
      immutableMemtables: tree.imm.length,
      liveSnapshots: this.snapshots.size,
      walBytes: tree.walBytes,
      userBytesWritten: c.userBytes,
      walBytesWritten: c.walBytes,
      flushBytesWritten: c.flushBytes,
      compactionBytesRead: c.compactionBytesRead,
      compactionBytesWritten: c.compactionBytesWritten,
      writeAmplification: c.userBytes === 0 ? 0 : diskBytesWritten / c.userBytes,
      flushes: c.flushes,
      compactions: c.compactions,
      threadCompactions: c.threadCompactions,
      compactionThread: tree.usesCompactionThread,
      compactionThreadError: tree.compactionThreadError,
      trivialMoves: c.trivialMoves,
      tablesDroppedByRangeDeletes: c.tablesDroppedByRangeDeletes,
      stallMs: c.stallMs,
      slowdowns: c.slowdowns,
      stops: c.stops,
      bloomProbes: tree.readStats.filterProbes,
      bloomNegatives: tree.readStats.filterNegatives,
      blockReads: tree.readStats.blockReads,
      blockCacheHits: cache.hits,
      blockCacheMisses: cache.misses,
      blockCacheHitRate: cache.hits + cache.misses === 0 ? 0 : cache.hits / (cache.hits + cache.misses),
      openTables: tree.tables.size,
      /** Obsolete files whose removal failed (each is retried by a later sweep). */
      failedRemovals: this.fs.failedRemovals,
      recovery: { ...tree.recoveryReport },
      ...this.counters,
    };
  }

  /** Stops accepting calls, finishes queued writes, and releases the directory. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    while (this.writing) await this.writeIdle.wait();
    try {
      await this.tree.close();
    } finally {
      this.lock.release();
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new DbClosedError(`db: ${JSON.stringify(this.dir)} is closed`);
  }

  private enqueue(ops: BatchOp[], sync: boolean): Promise<number> {
    this.checkOpen();
    if (this.tree.backgroundError) return Promise.reject(this.tree.backgroundError);
    if (this.queue.length >= this.options.writeQueueMax) {
      return Promise.reject(new DbError('WRITE_STALLED', `db: ${this.queue.length} writes already queued (writeQueueMax)`));
    }
    return new Promise<number>((resolve, reject) => this.push({ ops, sync, resolve, reject }));
  }

  private push(writer: Writer): void {
    this.queue.push(writer);
    if (!this.writing) {
      this.writing = true;
      queueMicrotask(() => void this.writeLoop());
    }
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.freeze) await this.freeze(this.queue.shift()!);
        else if (head.replicatedSeq !== undefined) await this.commitReplicated(this.queue.shift()!);
        else await this.commitGroup(this.takeGroup());
      }
    } finally {
      this.writing = false;
      this.writeIdle.notifyAll();
    }
  }

  private async freeze(writer: Writer): Promise<void> {
    try {
      await this.tree.freezeMemtable();
      writer.resolve(this.tree.lastSequence);
    } catch (err) {
      writer.reject(err);
    }
  }

  private takeGroup(): Writer[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && !this.queue[n]!.freeze && this.queue[n]!.replicatedSeq === undefined && (n === 0 || bytes < GROUP_BYTES_MAX)) {
      for (const op of this.queue[n]!.ops) bytes += op.key.length + op.value.length + 8;
      n++;
    }
    return this.queue.splice(0, n);
  }

  /** A replicated batch: trimmed of what is already applied, then committed alone. */
  private async commitReplicated(writer: Writer): Promise<void> {
    const last = this.tree.lastSequence;
    const seq = writer.replicatedSeq!;
    const ops = writer.ops;
    if (ops.length === 0) {
      // advanceSequence(seq - 1): an empty record moves the sequence, if it moves forward.
      if (seq - 1 <= last) writer.resolve(last);
      else await this.commit([writer], seq);
      return;
    }
    if (seq + ops.length - 1 <= last) writer.resolve(last); // a duplicate frame
    else if (seq > last + 1) writer.reject(new InvalidArgumentError(`applyBatch: batch starts at seq ${seq} but the last applied is ${last}: a gap`));
    else await this.commit([{ ...writer, ops: ops.slice(last + 1 - seq) }], last + 1);
  }

  private commitGroup(group: Writer[]): Promise<void> {
    return this.commit(group, undefined);
  }

  /** Logs and applies one group; `fixedSeq` is set for replicated batches, else the next seq. */
  private async commit(group: Writer[], fixedSeq: number | undefined): Promise<void> {
    const ops = group.length === 1 ? group[0]!.ops : group.flatMap((w) => w.ops);
    let record: Uint8Array;
    let firstSeq: number;
    try {
      await this.tree.makeRoomForWrite();
      firstSeq = fixedSeq ?? this.tree.lastSequence + 1;
      // Small records share slabs: the memtable keeps them until its flush either way.
      record = this.records.alloc(encodedBatchBytes(ops));
      encodeBatchInto(record, 0, firstSeq, ops);
      this.tree.appendToWal(record);
      if (group.some((w) => w.sync)) {
        await this.tree.syncWal();
        this.counters.walSyncs++;
      }
    } catch (err) {
      const failure = err instanceof DbError ? err : new IoError('db: WAL write failed', { cause: err });
      // The log may now end in a partial record: refuse further writes (invariant 3).
      this.tree.backgroundError ??= failure;
      for (const w of group) w.reject(failure);
      return;
    }
    // The memtable keeps the record: one copy of the caller's bytes.
    let userBytes = 0;
    for (const op of ops) userBytes += op.key.length + op.value.length;
    this.tree.applyRecord(record, walFileName(this.tree.walNumber), userBytes);
    const lastSeq = this.tree.lastSequence;
    this.counters.writeGroups++;
    this.counters.writesGrouped += group.length;
    let seq = firstSeq - 1;
    for (const w of group) {
      seq += w.ops.length;
      w.resolve(seq);
    }
    for (const listener of this.listeners) listener(firstSeq, lastSeq, record);
  }
}
