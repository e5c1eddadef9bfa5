/**
 * Runs compactions on a worker thread (compaction-worker.ts), the owning thread's side.
 *
 * Why: merging tables is most of an LSM's CPU time (fillrandom with 1,000,000 keys: write
 * amplification 5.3, and 4.6 s of a 9.0 s fill spent with writes stalled while compactions
 * ran between them on the event loop). LevelDB compacts on a background thread; so does this.
 *
 * What crosses the thread boundary is small and plain: the plan (file metadata), the version's
 * files (for isBottomForKey), the live snapshots, options; back comes the CompactionResult.
 * The worker opens the input tables itself, read-only (they are immutable), and writes and
 * fsyncs the outputs. Everything that changes the database's state stays on the owning thread:
 * file numbers are allocated here (a few with the job, more on request: `file-number`
 * messages), so they are marked pending outputs before a file of that name exists; unused
 * ones are simply skipped. The edit is logged to the MANIFEST here.
 * A worker that dies mid-job leaves only unreferenced tables, which the next obsolete-file
 * sweep deletes.
 *
 * One job at a time (the LSM tree serializes compactions). The worker is started when the
 * first memtable is frozen (warm()), or at the latest on the first job; it is not referenced
 * (it never keeps the process alive) while idle, and terminated on close. Why before the first
 * job: loading the worker takes 0.5-0.7 s of CPU under tsx, and a fill's first compaction
 * otherwise waited for it with L0 filling up, stalling writes; started at the first flush, it
 * loads on the other core while the next memtables fill. Not at open: a database that never
 * flushes (a test, a lightly used node) never pays for it (docs/decisions.md).
 */
import type { Worker } from 'node:worker_threads';
import { assert, DbClosedError, IoError } from '../errors.ts';
import { THREAD_TABLE_CACHE_FILES_MAX } from '../options.ts';
import { rebuildThreadError, startWorker, type ThreadError } from '../util/threads.ts';
import type { VersionEdit } from '../version/version-edit.ts';
import type { CompactionContext, CompactionResult } from './compaction-job.ts';
import type { CompactionPlan } from './picker.ts';
import type { TableWriterContext } from './table-writer.ts';

/** What the owning thread sends to start a job. */
export interface CompactionJobMessage {
  type: 'compact';
  dir: string;
  plan: CompactionPlan;
  /** The version's files, as an edit from the empty version. */
  version: VersionEdit;
  snapshots: number[];
  builder: TableWriterContext['builder'];
  tableBytesTarget: number;
  tableCacheFilesMax: number;
  /** File numbers allocated up front for the outputs; the worker asks for more if it runs out. */
  fileNumbers: number[];
}

/** What the worker sends back. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'file-number'; request: number }
  | { type: 'done'; result: CompactionResult }
  | { type: 'failed'; error: ThreadError };

/** File numbers reserved beyond the inputs' size in tables (cuts fall between user keys). */
const FILE_NUMBERS_SPARE = 2;

export interface CompactionThreadOptions {
  tableCacheFilesMax: number;
  /** The worker's entry module (tests substitute one that fails to load). */
  entry?: URL;
}

/**
 * The thread could not start (its module failed to load, say under a TypeScript runtime this
 * code does not know): the job never ran, and the caller may run it here instead.
 */
export class CompactionThreadStartError extends Error {
  constructor(cause: unknown) {
    super('lsm: the compaction thread could not start', { cause });
    this.name = 'CompactionThreadStartError';
  }
}

export class CompactionThread {
  private worker: Worker | undefined;
  /** The worker has loaded its module and said so (a 'ready' message). */
  private ready = false;
  private closed = false;
  /** warm() has run (it starts a worker at most once). */
  private warmed = false;
  private running: { resolve(r: CompactionResult): void; reject(e: Error): void; writer: TableWriterContext } | undefined;

  constructor(
    private readonly dir: string,
    private readonly options: CompactionThreadOptions,
  ) {}

  /** Runs one (non-trivial) compaction on the worker; resolves with its result. */
  run(plan: CompactionPlan, ctx: Omit<CompactionContext, 'tables'>): Promise<CompactionResult> {
    assert(!this.running, 'compaction thread: one job at a time');
    if (this.closed) throw new DbClosedError('lsm: the compaction thread is closed');
    const worker = this.start();
    worker.ref();
    // Enough numbers for outputs as large as the inputs, so a job rarely waits for this thread.
    let inputBytes = 0;
    for (const f of [...plan.inputs, ...plan.nextInputs]) inputBytes += f.fileBytes;
    const fileNumbers: number[] = [];
    const reserve = Math.ceil(inputBytes / ctx.writer.tableBytesTarget) + FILE_NUMBERS_SPARE;
    for (let i = 0; i < reserve; i++) fileNumbers.push(ctx.writer.newFileNumber() as number);
    const job: CompactionJobMessage = {
      type: 'compact',
      dir: this.dir,
      plan,
      version: ctx.version.toEdit(),
      snapshots: ctx.snapshots,
      builder: ctx.writer.builder,
      tableBytesTarget: ctx.writer.tableBytesTarget,
      tableCacheFilesMax: Math.min(this.options.tableCacheFilesMax, THREAD_TABLE_CACHE_FILES_MAX),
      fileNumbers,
    };
    return new Promise<CompactionResult>((resolve, reject) => {
      worker.postMessage(job);
      this.running = { resolve, reject, writer: ctx.writer };
    });
  }

  /**
   * Starts the worker now, idle and unreferenced, so the first job does not wait for it to
   * load. A worker that fails to start is noticed by the first job, which then runs here.
   */
  warm(): void {
    // Once: a worker that failed to load is not loaded again at every flush.
    if (this.closed || this.worker || this.warmed) return;
    this.warmed = true;
    try {
      this.start().unref();
    } catch {
      // The first job starts it again and, failing the same way, falls back to this thread.
    }
  }

  /** Whether a worker is running (or loading). */
  get started(): boolean {
    return this.worker !== undefined;
  }

  /** Stops the worker. Call only when no job runs (the LSM tree waits for its loops first). */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    this.ready = false;
    let worker: Worker;
    try {
      worker = startWorker(this.options.entry ?? new URL('./compaction-worker.ts', import.meta.url));
    } catch (err) {
      throw new CompactionThreadStartError(err);
    }
    worker.on('message', (message: WorkerMessage) => void this.onMessage(worker, message));
    worker.on('error', (err) => this.fail(this.ready ? new IoError('lsm: the compaction thread failed', { cause: err }) : new CompactionThreadStartError(err)));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      const why = `lsm: the compaction thread exited (code ${code}) during a compaction`;
      this.fail(this.ready ? new IoError(why) : new CompactionThreadStartError(new Error(why)));
    });
    this.worker = worker;
    return worker;
  }

  private async onMessage(worker: Worker, message: WorkerMessage): Promise<void> {
    if (message.type === 'ready') {
      this.ready = true;
      return;
    }
    const job = this.running;
    if (!job) return;
    if (message.type === 'file-number') {
      worker.postMessage({ type: 'file-number', request: message.request, number: await job.writer.newFileNumber() });
      return;
    }
    this.running = undefined;
    worker.unref();
    if (message.type === 'done') job.resolve(message.result);
    else job.reject(rebuildThreadError(message.error, 'compaction'));
  }

  private fail(err: Error): void {
    const job = this.running;
    this.running = undefined;
    job?.reject(err);
  }
}
