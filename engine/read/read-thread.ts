/**
 * Point lookups on a worker thread (read-worker.ts), the owning thread's side: getMany hands
 * it part of a batch's table lookups and does the rest itself meanwhile, so a large batch uses
 * two cores, as classic-level's getMany runs on libuv's thread pool while the event loop waits.
 *
 * What crosses: the keys (packed), the read's sequence number and the version's files (only
 * when the worker was not last sent that version: versions change with flushes and
 * compactions, not per batch); back come the values (packed) and the read counters. The
 * worker opens the tables itself, read-only. The caller pins the version until the lookup
 * settles, so no table it reads is deleted meanwhile.
 *
 * Requests are answered in order; any number may be in flight. The worker starts on the first
 * request, is not referenced (it never keeps the process alive) while none is pending, and is
 * terminated by close(), which first waits for the pending ones.
 */
import type { Worker } from 'node:worker_threads';
import { DbClosedError, IoError } from '../errors.ts';
import type { TableReadStats } from '../sst/table-reader.ts';
import { rebuildThreadError, startWorker } from '../util/threads.ts';
import type { Version } from '../version/version.ts';
import { BytesPacker, type LookupRequest, type PackedBytes, type ReadWorkerMessage, type ReadWorkerSettings } from './read-messages.ts';

export interface ReadThreadOptions extends Omit<ReadWorkerSettings, 'dir'> {
  /** The worker's entry module (tests substitute one that fails to load). */
  entry?: URL;
}

/** The thread could not start: the lookups never ran, and the caller may make them itself. */
export class ReadThreadStartError extends Error {
  constructor(cause: unknown) {
    super('lsm: the read thread could not start', { cause });
    this.name = 'ReadThreadStartError';
  }
}

interface Pending {
  resolve(values: PackedBytes): void;
  reject(err: Error): void;
}

export class ReadThread {
  private worker: Worker | undefined;
  private ready = false;
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private drained: (() => void) | undefined;
  /** Ids for versions, so a version's files cross once. */
  private readonly versionIds = new WeakMap<Version, number>();
  private nextVersionId = 1;
  /** The version the worker was last sent (it keeps only that one). */
  private sentVersion: Version | undefined;

  constructor(
    private readonly dir: string,
    private readonly options: ReadThreadOptions,
    /** Where the worker's read counters are added. */
    private readonly stats: TableReadStats,
  ) {}

  /**
   * The values of `keys` in `version`'s tables at `seq` (undefined where no put is found),
   * looked up on the thread. REQUIRES: `version` stays pinned until this settles.
   */
  lookup(version: Version, keys: readonly Uint8Array[], seq: number): Promise<PackedBytes> {
    if (this.closed) return Promise.reject(new DbClosedError('lsm: the read thread is closed'));
    let worker: Worker;
    try {
      worker = this.start();
    } catch (err) {
      return Promise.reject(err);
    }
    const packer = new BytesPacker(keys.length, keys.length * 24);
    for (const key of keys) packer.add(key);
    const packed = packer.finish();
    const request: LookupRequest = { type: 'lookup', id: this.nextId++, seq, versionId: this.idOf(version), version: undefined, keys: packed };
    if (this.sentVersion !== version) {
      request.version = version.toEdit();
      this.sentVersion = version;
    }
    if (this.pending.size === 0) worker.ref();
    return new Promise<PackedBytes>((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      worker.postMessage(request, [packed.bytes.buffer as ArrayBuffer, packed.offsets.buffer as ArrayBuffer]);
    });
  }

  /** Waits for the pending lookups, then stops the worker. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pending.size > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private idOf(version: Version): number {
    let id = this.versionIds.get(version);
    if (id === undefined) {
      id = this.nextVersionId++;
      this.versionIds.set(version, id);
    }
    return id;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    this.ready = false;
    this.sentVersion = undefined;
    let worker: Worker;
    try {
      const settings: ReadWorkerSettings = { dir: this.dir, tableCacheFilesMax: this.options.tableCacheFilesMax, blockCacheBytes: this.options.blockCacheBytes };
      worker = startWorker(this.options.entry ?? new URL('./read-worker.ts', import.meta.url), settings);
    } catch (err) {
      throw new ReadThreadStartError(err);
    }
    worker.unref();
    worker.on('message', (message: ReadWorkerMessage) => this.onMessage(worker, message));
    worker.on('error', (err) => this.failAll(this.ready ? new IoError('lsm: the read thread failed', { cause: err }) : new ReadThreadStartError(err)));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      const why = `lsm: the read thread exited (code ${code}) with lookups pending`;
      if (this.pending.size > 0) this.failAll(this.ready ? new IoError(why) : new ReadThreadStartError(new Error(why)));
    });
    this.worker = worker;
    return worker;
  }

  private onMessage(worker: Worker, message: ReadWorkerMessage): void {
    if (message.type === 'ready') {
      this.ready = true;
      return;
    }
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.settled(worker, message.id);
    if (message.type === 'failed') {
      waiter.reject(rebuildThreadError(message.error, 'a lookup'));
      return;
    }
    this.stats.filterProbes += message.stats.filterProbes;
    this.stats.filterNegatives += message.stats.filterNegatives;
    this.stats.blockReads += message.stats.blockReads;
    this.stats.blockCacheHits += message.stats.blockCacheHits;
    waiter.resolve(message.values);
  }

  private settled(worker: Worker, id: number): void {
    this.pending.delete(id);
    if (this.pending.size > 0) return;
    worker.unref();
    this.drained?.();
    this.drained = undefined;
  }

  private failAll(err: Error): void {
    const waiters = [...this.pending.values()];
    this.pending.clear();
    this.drained?.();
    this.drained = undefined;
    for (const w of waiters) w.reject(err);
  }
}

