/**
 * The file-system seam: every byte the engine reads or writes goes through this interface,
 * so tests can swap in `MemoryFileSystem`, which simulates crashes and injects I/O errors.
 *
 * Why mostly synchronous: appends and reads of page-cached data cost a few microseconds as
 * syscalls, while a trip through libuv's thread pool costs ten or more. Only the calls that
 * wait on the device (`sync`, `syncDir`) are asynchronous. Long jobs (flush, compaction) yield
 * to the event loop between blocks so they never hold it for long.
 *
 * Contract:
 * - `append` hands data to the OS (it survives a process crash) but not to the device;
 *   only after `sync()` resolves does it survive a machine crash.
 * - A created, renamed or removed directory entry is durable only after `syncDir` of its parent.
 */

/** A file opened for appending; created (or truncated) when opened. */
export interface WritableFile {
  readonly path: string;
  /** Appends `data` at the end of the file. */
  append(data: Uint8Array): void;
  /** Makes everything appended so far durable (fdatasync). */
  sync(): Promise<void>;
  /** Bytes appended so far. */
  size(): number;
  close(): void;
}

/** A file opened for positional reads. */
export interface ReadableFile {
  readonly path: string;
  readonly size: number;
  /** Reads up to `length` bytes at `offset`; fewer only at the end of the file. */
  read(offset: number, length: number): Uint8Array;
  /**
   * Reads up to `length` (by default `out.length`) bytes at `offset` into the start of `out`;
   * returns how many (fewer only at the end of the file). For hot paths that reuse one buffer:
   * a fresh 4 KiB buffer per read costs more than the read itself (see sst/table-reader.ts).
   */
  readInto(offset: number, out: Uint8Array, length?: number): number;
  close(): void;
}

/** A held directory lock; released on close or by the process's death. */
export interface FileLock {
  release(): void;
}

/** The operations a fault can be injected into, as `MemoryFileSystem` names them. */
export type FsOp =
  | 'mkdir'
  | 'list'
  | 'create'
  | 'open'
  | 'append'
  | 'sync'
  | 'read'
  | 'rename'
  | 'remove'
  | 'syncDir'
  | 'lock';

export interface FileSystem {
  /**
   * True when a worker thread may do this file system's work with a NodeFileSystem of its own
   * (the compaction thread does): true for NodeFileSystem itself only. A wrapper that adds
   * behavior (fault injection, encryption) leaves it unset, or the worker would bypass it.
   */
  readonly sharedWithWorkers?: boolean;
  /** Creates `dir` and its parents if missing. */
  mkdirp(dir: string): void;
  /** Names (not paths) of the entries in `dir`. */
  list(dir: string): string[];
  exists(path: string): boolean;
  /** Creates or truncates `path` and opens it for appending. */
  createWritable(path: string): WritableFile;
  openReadable(path: string): ReadableFile;
  /** Reads a whole file (small files: CURRENT, tests). */
  readAll(path: string): Uint8Array;
  /** Atomically replaces `to` with `from`. */
  rename(from: string, to: string): void;
  remove(path: string): void;
  /**
   * Removes `path` without waiting, where the file system can (the real disk: on libuv's
   * thread pool; unlinking a table of a few MiB took about 1 ms of the event loop). For files
   * nothing needs any more: a failure leaves the file for the next obsolete-file sweep and is
   * only counted (`failedRemovals`). A missing file is not a failure.
   */
  removeSoon(path: string): void;
  /** Waits for every removeSoon issued before the call (not for later ones). */
  drain(): Promise<void>;
  /** removeSoon calls that failed (the file stays until a later sweep removes it). */
  readonly failedRemovals: number;
  /** Makes the directory's entries (creates, renames, removes) durable. */
  syncDir(dir: string): Promise<void>;
  /** Takes an exclusive lock on `path`; throws DbLockedError if another holder is alive. */
  lock(path: string): FileLock;
}

/** Joins a directory and a file name with '/', the only separator the engine writes. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}
