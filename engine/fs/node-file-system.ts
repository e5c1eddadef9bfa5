/**
 * The real file system, over node:fs. Appends and reads are synchronous syscalls (see
 * file-system.ts for why); fsyncs go to the thread pool so the event loop keeps serving.
 *
 * The lock is an OS lock on LOCK (file-lock.ts). Files are created 0600 and directories 0700,
 * whatever the umask: a database holds its users' data, readable by its owner only.
 */
import * as fs from 'node:fs';
import { IoError } from '../errors.ts';
import { UNLINKS_IN_FLIGHT_MAX } from '../options.ts';
import { DIRECTORY_MODE, FILE_MODE, lockFile } from './file-lock.ts';
import type { FileLock, FileSystem, ReadableFile, WritableFile } from './file-system.ts';

function ioError(what: string, path: string, cause: unknown): IoError {
  const code = (cause as NodeJS.ErrnoException)?.code ?? 'unknown';
  return new IoError(`fs: ${what} ${JSON.stringify(path)} failed (${code})`, { cause });
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

class NodeWritableFile implements WritableFile {
  private bytes = 0;
  private closed = false;
  constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  append(data: Uint8Array): void {
    let done = 0;
    try {
      while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done);
    } catch (cause) {
      throw ioError('append to', this.path, cause);
    }
    this.bytes += data.length;
  }

  async sync(): Promise<void> {
    if (this.closed) return;
    try {
      await fdatasync(this.fd);
    } catch (cause) {
      throw ioError('fdatasync', this.path, cause);
    }
  }

  size(): number {
    return this.bytes;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
    } catch (cause) {
      throw ioError('close', this.path, cause);
    }
  }
}

class NodeReadableFile implements ReadableFile {
  constructor(
    readonly path: string,
    private readonly fd: number,
    readonly size: number,
  ) {}

  read(offset: number, length: number): Uint8Array {
    const out = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.size - offset)));
    const done = this.readInto(offset, out);
    return done === out.length ? out : out.subarray(0, done);
  }

  readInto(offset: number, out: Uint8Array, length = out.length): number {
    const n = Math.max(0, Math.min(length, out.length, this.size - offset));
    let done = 0;
    try {
      while (done < n) {
        const got = fs.readSync(this.fd, out, done, n - done, offset + done);
        if (got === 0) break;
        done += got;
      }
    } catch (cause) {
      throw ioError('read', this.path, cause);
    }
    return done;
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch (cause) {
      throw ioError('close', this.path, cause);
    }
  }
}

export class NodeFileSystem implements FileSystem {
  readonly sharedWithWorkers = true;

  mkdirp(dir: string): void {
    try {
      const first = fs.mkdirSync(dir, { recursive: true, mode: DIRECTORY_MODE });
      // The mode given to mkdir is masked by the umask; chmod is not.
      if (first !== undefined) for (const created of pathsFrom(first, dir)) fs.chmodSync(created, DIRECTORY_MODE);
    } catch (cause) {
      throw ioError('mkdir', dir, cause);
    }
  }

  list(dir: string): string[] {
    try {
      return fs.readdirSync(dir);
    } catch (cause) {
      throw ioError('list', dir, cause);
    }
  }

  exists(path: string): boolean {
    return fs.existsSync(path);
  }

  createWritable(path: string): WritableFile {
    try {
      const fd = fs.openSync(path, 'w', FILE_MODE);
      fs.fchmodSync(fd, FILE_MODE);
      return new NodeWritableFile(path, fd);
    } catch (cause) {
      throw ioError('create', path, cause);
    }
  }

  openReadable(path: string): ReadableFile {
    try {
      const fd = fs.openSync(path, 'r');
      return new NodeReadableFile(path, fd, fs.fstatSync(fd).size);
    } catch (cause) {
      throw ioError('open', path, cause);
    }
  }

  readAll(path: string): Uint8Array {
    try {
      return fs.readFileSync(path);
    } catch (cause) {
      throw ioError('read', path, cause);
    }
  }

  rename(from: string, to: string): void {
    try {
      fs.renameSync(from, to);
    } catch (cause) {
      throw ioError(`rename to ${JSON.stringify(to)} of`, from, cause);
    }
  }

  remove(path: string): void {
    try {
      fs.rmSync(path, { force: true });
    } catch (cause) {
      throw ioError('remove', path, cause);
    }
  }

  /** Paths waiting for an unlink, and the unlinks running (at most UNLINKS_IN_FLIGHT_MAX). */
  private readonly toRemove: string[] = [];
  private unlinking = 0;
  /** Resolvers of drain() calls, each waiting for the removals queued before it. */
  private readonly drains: Array<{ until: number; resolve(): void }> = [];
  private removalsQueued = 0;
  private removalsDone = 0;
  failedRemovals = 0;

  removeSoon(path: string): void {
    this.toRemove.push(path);
    this.removalsQueued++;
    this.pumpRemovals();
  }

  drain(): Promise<void> {
    if (this.removalsDone === this.removalsQueued) return Promise.resolve();
    return new Promise((resolve) => this.drains.push({ until: this.removalsQueued, resolve }));
  }

  private pumpRemovals(): void {
    while (this.unlinking < UNLINKS_IN_FLIGHT_MAX && this.toRemove.length > 0) {
      const path = this.toRemove.shift()!;
      this.unlinking++;
      fs.unlink(path, (err) => {
        if (err && err.code !== 'ENOENT') this.failedRemovals++;
        this.unlinking--;
        this.removalsDone++;
        for (let i = this.drains.length - 1; i >= 0; i--) {
          if (this.removalsDone >= this.drains[i]!.until) this.drains.splice(i, 1)[0]!.resolve();
        }
        this.pumpRemovals();
      });
    }
  }

  async syncDir(dir: string): Promise<void> {
    let fd: number | undefined;
    try {
      fd = fs.openSync(dir, 'r');
      await fsyncFd(fd);
    } catch (cause) {
      throw ioError('fsync directory', dir, cause);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  lock(path: string): FileLock {
    return lockFile(path);
  }
}

/** `first` and each directory below it on the way to `last` (mkdir's newly created ones). */
function pathsFrom(first: string, last: string): string[] {
  const out = [first];
  const rest = last.slice(first.length).split('/').filter((part) => part !== '');
  for (const part of rest) out.push(`${out[out.length - 1]}/${part}`);
  return out;
}
