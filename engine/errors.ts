/**
 * The engine's expected failures: a small set of error classes, each with a stable
 * upper-case `code` that callers branch on, and an optional `cause`.
 *
 * Broken invariants are not errors of this kind: they go through `assert()` below and
 * stop the process, because continuing would risk writing wrong data to disk.
 */

export type DbErrorCode =
  | 'CORRUPTION'
  | 'IO_ERROR'
  | 'NOT_FOUND'
  | 'DB_CLOSED'
  | 'DB_LOCKED'
  | 'INVALID_ARGUMENT'
  | 'WRITE_STALLED';

/** Base class of every error the engine rejects with. */
export class DbError extends Error {
  readonly code: DbErrorCode;
  constructor(code: DbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'DbError';
  }
}

/** On-disk bytes are not what was written: a checksum, a length or a magic number is wrong. */
export class CorruptionError extends DbError {
  /** The file the corruption was found in, as a path. */
  readonly file: string | undefined;
  constructor(message: string, options?: { cause?: unknown; file?: string }) {
    super('CORRUPTION', options?.file ? `${message} (file ${JSON.stringify(options.file)})` : message, options);
    this.name = 'CorruptionError';
    this.file = options?.file;
  }
}

/** The operating system refused a file operation. */
export class IoError extends DbError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IO_ERROR', message, options);
    this.name = 'IoError';
  }
}

/** A caller passed something the engine cannot accept. */
export class InvalidArgumentError extends DbError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** The database was used after `close()`. */
export class DbClosedError extends DbError {
  constructor(message = 'Database is closed') {
    super('DB_CLOSED', message);
    this.name = 'DbClosedError';
  }
}

/** Another process (or another `Db` in this process) holds the directory's lock. */
export class DbLockedError extends DbError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DB_LOCKED', message, options);
    this.name = 'DbLockedError';
  }
}

/** A named thing does not exist (a file, a snapshot); never used for a missing key. */
export class NotFoundError extends DbError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

/** Thrown for programmer errors and broken invariants; never caught on purpose. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionError';
  }
}

/** Checks an invariant. A failure is a bug in this code, not bad input. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
