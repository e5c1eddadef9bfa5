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
import { decodeBatch, encodeBatchInto, encodedBatchBytes, walkBatch, type BatchOp } from './write-batch.ts';

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
  /** A replicated batch (or advanceSequence): its ops keep the leader's sequence numbers, starting here. */
  replicatedSeq?: number;
  /** A replicated batch as shipped, checked; `ops` is then empty. */
  shipped?: ShippedBatch;
  resolve(seq: number): void;
  reject(err: unknown): void;
}

/** A batch from a leader, as applyBatch received it: its bytes, checked, and what the walk counted. */
interface ShippedBatch {
  record: Uint8Array;
  count: number;
  userBytes: number;
}

const NO_OPS: BatchOp[] = [];

/** Why a shipped op is refused: which op, and which limit its key or value passes. */
function shippedOpTooLarge(index: number, kind: ValueKind, keyLength: number, valueLength: number, options: DbOptions): string {
  if (keyLength > options.keyBytesMax) return `applyBatch: op ${index} has a key of ${keyLength} bytes, more than keyBytesMax (${options.keyBytesMax})`;
  if (kind === ValueKind.RangeDelete) return `applyBatch: op ${index} is a range delete whose end is ${valueLength} bytes, more than keyBytesMax (${options.keyBytesMax})`;
  return `applyBatch: op ${index} has a value of ${valueLength} bytes, more than valueBytesMax (${options.valueBytesMax})`;
}

/** Where the copies get() returns come from (see util/byte-slab.ts). */
const valueCopies = new ByteSlab();
const copyValue = (value: Uint8Array) => valueCopies.copy(value);

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
   * sequence number (the snapshot's, if given), the one of the call. One call and one promise
   * for the lot; with `readThread` on, a large batch's table lookups are shared with the read
   * thread (read/get-many.ts). At most batchOpsMax keys.
   */
  async getMany(keys: readonly KeyLike[], options?: ReadOptions): Promise<Array<Uint8Array | undefined>> {
    this.checkOpen();
    const userKeys = checkKeys(keys, this.options);
    const seq = this.snapshots.resolve(options?.snapshot, this.tree.lastSequence);
    return this.tree.getMany(userKeys, seq, copyValue);
  }

  /** A copy of the value of `userKey` at `seq`, or undefined if absent or deleted. */
  private valueAt(userKey: Uint8Array, seq: number): Uint8Array | undefined {
    const entry = this.tree.get(userKey, seq);
    return entry?.kind === ValueKind.Put ? copyValue(entry.value) : undefined;
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
   * sequence numbers; range deletions included. Idempotent: ops at or below `lastSequence`
   * are skipped, so applying a batch twice is harmless. A batch that starts past
   * `lastSequence + 1` leaves a gap and is INVALID_ARGUMENT. Resolves to the new `lastSequence`.
   *
   * The bytes are checked by walking them (no op objects) and, when the batch follows on
   * exactly, logged as they are (one copy, so the caller may reuse its buffer); only a batch
   * that overlaps what is applied is decoded and trimmed.
   */
  applyBatch(encodedBatch: Uint8Array, options?: WriteOptions): Promise<number> {
    try {
      this.checkOpen();
      if (!(encodedBatch instanceof Uint8Array)) throw new InvalidArgumentError('applyBatch: batch must be a Uint8Array');
      const { seq, count, userBytes } = this.checkShippedBatch(encodedBatch);
      const sync = checkSyncOption(options, this.options.sync);
      return new Promise<number>((resolve, reject) =>
        this.push({ ops: NO_OPS, sync, replicatedSeq: seq, shipped: { record: encodedBatch, count, userBytes }, resolve, reject }),
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Walks a shipped batch, checking each op as the public API would; its seq, op count and user bytes. */
  private checkShippedBatch(batch: Uint8Array): { seq: number; count: number; userBytes: number } {
    const { keyBytesMax, valueBytesMax } = this.options;
    let count = 0;
    let userBytes = 0;
    let seq: number;
    try {
      seq = walkBatch(batch, 'replicated batch', (_seq, kind, _keyAt, keyLength, _valueAt, valueLength) => {
        const valueMax = kind === ValueKind.Put ? valueBytesMax : kind === ValueKind.RangeDelete ? keyBytesMax : 0;
        if (keyLength > keyBytesMax || valueLength > valueMax) throw new InvalidArgumentError(shippedOpTooLarge(count, kind, keyLength, valueLength, this.options));
        userBytes += keyLength + valueLength;
        count++;
      });
    } catch (cause) {
      if (cause instanceof InvalidArgumentError) throw cause;
      throw new InvalidArgumentError(`applyBatch: malformed batch (${(cause as Error).message})`, { cause });
    }
    return { seq, count, userBytes };
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
      return new Promise<number>((resolve, reject) => this.push({ ops: NO_OPS, sync, replicatedSeq: seq + 1, resolve, reject }));
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
      keysEstimate: tree.keysEstimate(),
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
      readThread: tree.readThread !== undefined,
      readThreadError: tree.readThreadError,
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

  /**
   * A replicated batch, committed alone: as shipped when it follows on exactly (the common
   * case), decoded and trimmed of what is already applied when it overlaps it.
   */
  private async commitReplicated(writer: Writer): Promise<void> {
    const last = this.tree.lastSequence;
    const seq = writer.replicatedSeq!;
    const shipped = writer.shipped;
    const count = shipped?.count ?? 0;
    if (count === 0) {
      // advanceSequence(seq - 1), or an empty batch: an empty record moves the sequence, if it moves forward.
      if (seq - 1 <= last) writer.resolve(last);
      else await this.commit([writer], seq);
      return;
    }
    if (seq + count - 1 <= last) writer.resolve(last); // a duplicate frame
    else if (seq > last + 1) writer.reject(new InvalidArgumentError(`applyBatch: batch starts at seq ${seq} but the last applied is ${last}: a gap`));
    else if (seq === last + 1) await this.commitRecord([writer], () => this.records.copy(shipped!.record), shipped!.userBytes);
    else {
      const ops = decodeBatch(shipped!.record, 'replicated batch').ops.slice(last + 1 - seq);
      await this.commit([{ ...writer, ops, shipped: undefined }], last + 1);
    }
  }

  private commitGroup(group: Writer[]): Promise<void> {
    return this.commit(group, undefined);
  }

  /** Encodes and commits one group's ops; `fixedSeq` is set for replicated batches, else the next seq. */
  private commit(group: Writer[], fixedSeq: number | undefined): Promise<void> {
    const ops = group.length === 1 ? group[0]!.ops : group.flatMap((w) => w.ops);
    let userBytes = 0;
    for (const op of ops) userBytes += op.key.length + op.value.length;
    return this.commitRecord(
      group,
      () => {
        // Small records share slabs: the memtable keeps them until its flush either way.
        const record = this.records.alloc(encodedBatchBytes(ops));
        encodeBatchInto(record, 0, fixedSeq ?? this.tree.lastSequence + 1, ops);
        return record;
      },
      userBytes,
    );
  }

  /**
   * Logs and applies one record, which `makeRecord` builds once the memtable has room (the
   * memtable keeps it: the only copy of the caller's bytes); settles the group's writers.
   */
  private async commitRecord(group: Writer[], makeRecord: () => Uint8Array, userBytes: number): Promise<void> {
    let record: Uint8Array;
    try {
      await this.tree.makeRoomForWrite();
      record = makeRecord();
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
    const firstSeq = this.tree.applyRecord(record, walFileName(this.tree.walNumber), userBytes);
    const lastSeq = this.tree.lastSequence;
    this.counters.writeGroups++;
    this.counters.writesGrouped += group.length;
    let seq = firstSeq - 1;
    for (const w of group) {
      seq += w.shipped?.count ?? w.ops.length;
      w.resolve(w.replicatedSeq === undefined ? seq : lastSeq);
    }
    for (const listener of this.listeners) listener(firstSeq, lastSeq, record);
  }
}
