/**
 * What the engine's worker threads (compaction, reads) share: starting a worker whose entry
 * is TypeScript source, and errors crossing the thread boundary as plain data and back as the
 * kind the same failure on the owning thread would have thrown.
 */
import { Worker } from 'node:worker_threads';
import { AssertionError, CorruptionError, IoError } from '../errors.ts';

/** An error thrown on a worker thread, as plain data. */
export interface ThreadError {
  name: string;
  code: string | undefined;
  message: string;
  /** A CorruptionError's file (its message without the suffix naming it). */
  file: string | undefined;
  /** The cause's errno code and message, for an I/O error. */
  cause: { code: string | undefined; message: string } | undefined;
}

/** On the worker: an error as plain data; a CorruptionError's message without the file suffix it adds. */
export function describeThreadError(err: unknown): ThreadError {
  const file = err instanceof CorruptionError ? err.file : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const suffix = file ? ` (file ${JSON.stringify(file)})` : '';
  const cause = err instanceof Error && err.cause instanceof Error ? { code: (err.cause as NodeJS.ErrnoException).code, message: err.cause.message } : undefined;
  return {
    name: err instanceof Error ? err.name : 'Error',
    code: (err as { code?: string }).code,
    message: suffix && message.endsWith(suffix) ? message.slice(0, -suffix.length) : message,
    file,
    cause,
  };
}

/**
 * On the owning thread: the error to reject with, of the kind the same failure here would
 * have thrown: CorruptionError, AssertionError (a broken invariant), else IoError keeping the
 * cause and saying `what` failed on its thread.
 */
export function rebuildThreadError(e: ThreadError, what: string): Error {
  if (e.code === 'CORRUPTION') return new CorruptionError(e.message, { file: e.file });
  if (e.name === 'AssertionError') return new AssertionError(e.message.replace(/^assertion failed: /, ''));
  const cause = e.cause && Object.assign(new Error(e.cause.message), { code: e.cause.code });
  return new IoError(`lsm: ${what} failed on its thread: ${e.message}`, { cause });
}

/**
 * A worker running `entry`. TypeScript source needs tsx's loader in the worker too, and on
 * Node 20 a worker does not get it from `--import tsx` before its entry module is loaded, so
 * a two-line bootstrap registers tsx first and then imports the entry.
 */
export function startWorker(entry: URL, workerData?: unknown): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
