/**
 * The directory lock of the real file system: an exclusive OS lock on the file LOCK, held for
 * as long as the database is open and released by the kernel when the process dies.
 *
 * Why an OS lock (docs/decisions.md, "The directory lock"): a LOCK file that merely exists,
 * holding its owner's pid, needs a guess about whether that owner is alive. Guessing raced
 * (two processes taking over one stale LOCK both held it) and could not tell a pid of another
 * pid namespace from our own (two containers, both pid 1). The kernel knows: an open file
 * description lock (fcntl F_OFD_SETLK on Linux, flock on macOS, LockFileEx on Windows, through
 * the fs-native-extensions package) conflicts with every other open of the file, in this
 * process or any other, and vanishes with the descriptor.
 *
 * Invariants:
 * 1. LOCK is never deleted by a release: a process that opened it a moment earlier could
 *    then lock the unlinked file while a third creates and locks a new one. (Db.destroy
 *    removes it while holding the lock, which is safe because of 2.)
 * 2. A lock counts only if LOCK still names the locked file afterwards (same inode);
 *    otherwise the file was replaced between open and lock, and the attempt starts over.
 * 3. The text in LOCK (pid and host of the holder) is only for messages; nothing decides by it.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { DbLockedError, IoError } from '../errors.ts';
import { LOCK_OPEN_ATTEMPTS_MAX } from '../options.ts';
import type { FileLock } from './file-system.ts';

/** Mode of every file the engine creates (owner read and write only, whatever the umask). */
export const FILE_MODE = 0o600;
/** Mode of every directory the engine creates. */
export const DIRECTORY_MODE = 0o700;

interface OsLocks {
  tryLock(fd: number): boolean;
  unlock(fd: number): void;
}

let osLocks: OsLocks | undefined;

/** The native lock calls, loaded on first use (the compaction thread never needs them). */
function loadOsLocks(path: string): OsLocks {
  if (osLocks === undefined) {
    try {
      osLocks = createRequire(import.meta.url)('fs-native-extensions') as OsLocks;
    } catch (cause) {
      throw new IoError(`fs: cannot lock ${JSON.stringify(path)}: the OS lock module fs-native-extensions did not load on this platform`, { cause });
    }
  }
  return osLocks;
}

/** Paths locked by this thread: a second open in one process must fail before the OS is asked. */
const heldLocks = new Set<string>();

function ioError(what: string, path: string, cause: unknown): IoError {
  const code = (cause as NodeJS.ErrnoException)?.code ?? 'unknown';
  return new IoError(`fs: ${what} ${JSON.stringify(path)} failed (${code})`, { cause });
}

/** Takes the lock on `path` (created 0600 if missing); DbLockedError if another holder has it. */
export function lockFile(path: string): FileLock {
  const os = loadOsLocks(path);
  const key = canonicalPath(path);
  if (heldLocks.has(key)) throw new DbLockedError(`fs: lock ${JSON.stringify(path)} is already held by this process`);
  for (let attempt = 0; attempt < LOCK_OPEN_ATTEMPTS_MAX; attempt++) {
    const fd = openLockFile(path);
    let locked = false;
    try {
      locked = os.tryLock(fd);
      if (!locked) throw new DbLockedError(`fs: ${JSON.stringify(path)} is locked by another process (${holderOf(fd)})`);
      if (namesFile(path, fd)) {
        describeHolder(fd, path);
        heldLocks.add(key);
        return heldLock(os, fd, key);
      }
    } catch (err) {
      release(os, fd, locked);
      throw err;
    }
    // LOCK was replaced or removed between our open and our lock (invariant 2): again.
    release(os, fd, true);
  }
  throw new DbLockedError(`fs: could not take lock ${JSON.stringify(path)}: it was replaced ${LOCK_OPEN_ATTEMPTS_MAX} times while we took it`);
}

function heldLock(os: OsLocks, fd: number, key: string): FileLock {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      heldLocks.delete(key);
      release(os, fd, true);
    },
  };
}

function openLockFile(path: string): number {
  try {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, FILE_MODE);
    fs.fchmodSync(fd, FILE_MODE);
    return fd;
  } catch (cause) {
    throw ioError('open lock', path, cause);
  }
}

/** Unlocks (if locked) and closes; the file stays (invariant 1). */
function release(os: OsLocks, fd: number, locked: boolean): void {
  try {
    if (locked) os.unlock(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether `path` still names the file open as `fd`. */
function namesFile(path: string, fd: number): boolean {
  try {
    const now = fs.statSync(path);
    const held = fs.fstatSync(fd);
    return now.ino === held.ino && now.dev === held.dev;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError('stat lock', path, err);
  }
}

/** Writes who holds the lock into it, for the message another opener prints. */
function describeHolder(fd: number, path: string): void {
  try {
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, `pid ${process.pid} on host ${hostname()}\n`, 0);
  } catch (cause) {
    throw ioError('write lock', path, cause);
  }
}

/** What the holder wrote into LOCK (for messages only), e.g. "pid 1234 on host a1". */
function holderOf(fd: number): string {
  try {
    const text = fs.readFileSync(fd, 'utf8').trim();
    return /^pid \d+ on host [\x21-\x7e]{0,255}$/.test(text) ? text : 'holder unknown';
  } catch {
    // Only a message depends on it: an unreadable LOCK still means "locked".
    return 'holder unknown';
  }
}

function canonicalPath(path: string): string {
  const i = path.lastIndexOf('/');
  const dir = i <= 0 ? (i === 0 ? '/' : '.') : path.slice(0, i);
  try {
    return `${fs.realpathSync.native(dir)}/${path.slice(i + 1)}`;
  } catch (cause) {
    throw ioError('resolve', dir, cause);
  }
}
