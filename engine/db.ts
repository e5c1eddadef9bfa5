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
import { checkBatch, checkIteratorOptions, checkKey, checkSyncOption, checkValue, type BatchOperation, type IteratorOptions, type KeyLike } from './db-arguments.ts';
import { DbIterator } from './db-iterator.ts';
import { DbClosedError, DbError, InvalidArgumentError, IoError, NotFoundError } from './errors.ts';
import { joinPath, type FileLock, type FileSystem } from './fs/file-system.ts';
import { NodeFileSystem } from './fs/node-file-system.ts';
import { ValueKind } from './internal-key.ts';
import type { InternalIterator } from './internal-iterator.ts';
import { Memtable } from './memtable/memtable.ts';
import { MergingIterator } from './merging-iterator.ts';
import { resolveOptions, type DbOptions } from './options.ts';
import { recover, type RecoveryReport } from './recovery.ts';
import { Snapshot, SnapshotRegistry } from './snapshot.ts';
import { Signal } from './util/signal.ts';
import { parseFileName, walFileName } from './version/file-meta.ts';
import { ManifestWriter } from './version/manifest.ts';
import type { Version } from './version/version.ts';
import { WalWriter } from './wal.ts';
import { encodeBatch, decodeBatch, type BatchOp } from './write-batch.ts';

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
  resolve(seq: number): void;
  reject(err: unknown): void;
}

/** A group is cut at this many bytes of ops so one huge queue does not make one huge record. */
const GROUP_BYTES_MAX = 1024 * 1024;

export class Db {
  private mem!: Memtable;
  /** Frozen memtables waiting to be flushed, newest first. */
  private imm: Memtable[] = [];
  private version!: Version;
  private wal!: WalWriter;
  private manifest!: ManifestWriter;
  private lock!: FileLock;
  private logNumber = 0;
  private nextFileNumber = 1;
  private lastSeq = 0;
  private readonly queue: Writer[] = [];
  private writing = false;
  private readonly writeIdle = new Signal();
  private closed = false;
  private closing: Promise<void> | undefined;
  private backgroundError: DbError | undefined;
  private readonly snapshots = new SnapshotRegistry();
  private readonly listeners = new Set<CommitListener>();
  private recoveryReport!: RecoveryReport;
  private readonly counters = { userBytesWritten: 0, writeGroups: 0, writesGrouped: 0, walSyncs: 0 };

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

  private async openDirectory(): Promise<void> {
    const { fs, dir } = this;
    if (!fs.exists(dir)) {
      if (!this.options.createIfMissing) throw new NotFoundError(`db: ${JSON.stringify(dir)} does not exist and createIfMissing is false`);
      fs.mkdirp(dir);
    }
    this.lock = fs.lock(joinPath(dir, 'LOCK'));
    try {
      const state = recover(fs, dir, this.options.skipWalCorruption);
      this.recoveryReport = state.report;
      this.version = state.version;
      this.lastSeq = state.lastSequence;
      this.nextFileNumber = state.nextFileNumber;
      const walNumber = this.nextFileNumber++;
      const manifestNumber = this.nextFileNumber++;
      this.imm = state.memtables.reverse();
      this.logNumber = this.imm.length > 0 ? this.imm[this.imm.length - 1]!.walNumber : walNumber;
      this.mem = new Memtable(walNumber);
      // MANIFEST and CURRENT first: a WAL with no CURRENT beside it would read as a lost CURRENT.
      this.manifest = await ManifestWriter.create(fs, dir, manifestNumber, {
        ...this.version.toEdit(),
        logNumber: this.logNumber,
        nextFileNumber: this.nextFileNumber,
        lastSequence: this.lastSeq,
      });
      this.wal = await WalWriter.create(fs, dir, walNumber);
      this.deleteObsoleteFiles();
    } catch (err) {
      this.lock.release();
      throw err;
    }
  }

  /** The sequence number of the newest acknowledged write (0 for an empty database). */
  get lastSequence(): number {
    return this.lastSeq;
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

  /** Applies every operation or none; resolves to the sequence number of the last one. */
  batch(operations: BatchOperation[], options?: WriteOptions): Promise<number> {
    try {
      const ops = checkBatch(operations, this.options);
      if (ops.length === 0) {
        this.checkOpen();
        return Promise.resolve(this.lastSeq);
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
    const seq = this.snapshots.resolve(options?.snapshot, this.lastSeq);
    for (const mem of this.memtables()) {
      const entry = mem.get(userKey, seq);
      if (entry) return entry.kind === ValueKind.Put ? entry.value.slice() : undefined;
    }
    return undefined;
  }

  /** Pins reads to the current state until `release()`. */
  snapshot(): Snapshot {
    this.checkOpen();
    return this.snapshots.create(this.lastSeq);
  }

  /** Entries in bytewise key order (or reverse), within bounds, at a snapshot. */
  iterator(options?: IteratorOptions<Snapshot>): AsyncIterableIterator<[Uint8Array, Uint8Array]> {
    return this.iterate(options);
  }

  private async *iterate(input: unknown): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.checkOpen();
    const { bounds, reverse, limit, snapshot } = checkIteratorOptions<Snapshot>(input);
    const seq = this.snapshots.resolve(snapshot, this.lastSeq);
    const it = new DbIterator(this.internalIterator(), seq, bounds, reverse, limit);
    for (let entry = it.next(); entry !== undefined; entry = it.next()) {
      yield entry;
      this.checkOpen();
    }
  }

  /** A merged iterator over every source, newest first on ties (which cannot occur). */
  private internalIterator(): InternalIterator {
    return new MergingIterator(this.memtables().map((m) => m.iterator()));
  }

  private memtables(): Memtable[] {
    return this.imm.length === 0 ? [this.mem] : [this.mem, ...this.imm];
  }

  /** Calls `listener` after each committed group, in commit order (for replication). */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats() {
    return {
      lastSequence: this.lastSeq,
      memtableBytes: this.mem.bytes,
      immutableMemtables: this.imm.length,
      liveSnapshots: this.snapshots.size,
      walBytes: this.wal.bytes(),
      recovery: { ...this.recoveryReport },
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
      this.wal.close();
      this.manifest.close();
    } finally {
      this.lock.release();
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new DbClosedError(`db: ${JSON.stringify(this.dir)} is closed`);
  }

  private enqueue(ops: BatchOp[], sync: boolean): Promise<number> {
    this.checkOpen();
    if (this.backgroundError) return Promise.reject(this.backgroundError);
    if (this.queue.length >= this.options.writeQueueMax) {
      return Promise.reject(new DbError('WRITE_STALLED', `db: ${this.queue.length} writes already queued (writeQueueMax)`));
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ ops, sync, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        queueMicrotask(() => void this.writeLoop());
      }
    });
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.commitGroup(this.takeGroup());
    } finally {
      this.writing = false;
      this.writeIdle.notifyAll();
    }
  }

  private takeGroup(): Writer[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes < GROUP_BYTES_MAX)) {
      for (const op of this.queue[n]!.ops) bytes += op.key.length + op.value.length + 8;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async commitGroup(group: Writer[]): Promise<void> {
    const ops = group.length === 1 ? group[0]!.ops : group.flatMap((w) => w.ops);
    const firstSeq = this.lastSeq + 1;
    let record: Uint8Array;
    try {
      if (this.backgroundError) throw this.backgroundError;
      record = encodeBatch(firstSeq, ops);
      this.wal.append(record);
      if (group.some((w) => w.sync)) {
        await this.wal.sync();
        this.counters.walSyncs++;
      }
    } catch (err) {
      const failure = err instanceof DbError ? err : new IoError('db: WAL write failed', { cause: err });
      this.backgroundError = failure;
      for (const w of group) w.reject(failure);
      return;
    }
    // Apply views into the record: one copy of the caller's bytes, owned by the memtable.
    const applied = decodeBatch(record, walFileName(this.wal.number));
    for (let i = 0; i < applied.ops.length; i++) {
      const op = applied.ops[i]!;
      this.mem.add(op.key, firstSeq + i, op.kind, op.value);
    }
    const lastSeq = firstSeq + ops.length - 1;
    this.lastSeq = lastSeq;
    this.counters.userBytesWritten += record.length;
    this.counters.writeGroups++;
    this.counters.writesGrouped += group.length;
    let seq = firstSeq - 1;
    for (const w of group) {
      seq += w.ops.length;
      w.resolve(seq);
    }
    for (const listener of this.listeners) listener(firstSeq, lastSeq, record);
  }

  /** Deletes files no version, memtable or MANIFEST needs any more. */
  private deleteObsoleteFiles(): void {
    const live = this.version.fileNumbers();
    const liveWals = new Set([this.mem.walNumber, ...this.imm.map((m) => m.walNumber)]);
    for (const name of this.fs.list(this.dir)) {
      const parsed = parseFileName(name);
      if (!parsed) continue;
      const obsolete =
        parsed.type === 'temp' ||
        (parsed.type === 'wal' && parsed.number < this.logNumber && !liveWals.has(parsed.number)) ||
        (parsed.type === 'manifest' && parsed.number !== this.manifest.number) ||
        (parsed.type === 'table' && !live.has(parsed.number));
      if (obsolete) this.fs.remove(joinPath(this.dir, name));
    }
  }
}
