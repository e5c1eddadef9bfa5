/**
 * An in-memory file system for tests: it models what survives a machine crash and injects
 * I/O errors on chosen calls.
 *
 * Model: a path names an inode; an inode has `data` (what the OS has) and `durable` (what
 * reached the device at the last sync). Directory entries are split the same way: `entries`
 * is what the OS shows, `durableEntries` what the last `syncDir` of each directory made
 * durable. `crash()` returns a new file system as the machine would see it after a power cut:
 * - each durable entry keeps its durable bytes, plus, at random, a prefix of its unsynced tail
 *   (a torn write);
 * - an entry created, renamed or removed since its directory's last sync may or may not have
 *   happened, independently and at random.
 * The randomness comes from a seed, so a failing crash state can be replayed.
 */
import { DbLockedError, IoError } from '../errors.ts';
import type { FileLock, FileSystem, FsOp, ReadableFile, WritableFile } from './file-system.ts';

interface Inode {
  data: Uint8Array;
  length: number;
  durableLength: number;
  durable: Uint8Array;
}

export interface CrashOptions {
  /** false: only synced bytes survive (same as data: 'drop'). */
  tornWrites?: boolean;
  /** What survives of unsynced file data: none, all, or a random prefix per file. */
  data?: 'drop' | 'keep' | 'random';
  /** Whether unsynced directory changes (create, rename, remove) survive. */
  entries?: 'durable' | 'keep' | 'random';
}

/** Decides whether a call fails: return an Error to throw it, undefined to let it pass. */
export type FaultInjector = (op: FsOp, path: string) => Error | undefined;

/** A small deterministic PRNG (mulberry32), so crash states replay from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function newInode(): Inode {
  return { data: new Uint8Array(256), length: 0, durableLength: 0, durable: new Uint8Array(0) };
}

export class MemoryFileSystem implements FileSystem {
  readonly sharedWithWorkers = false;
  private entries = new Map<string, Inode>();
  private durableEntries = new Map<string, Inode>();
  private dirs = new Set<string>(['/']);
  private locks = new Set<string>();
  /** Every call, in order, for crash-state exploration and debugging. */
  readonly log: Array<{ op: FsOp; path: string }> = [];
  recordLog = false;
  fault: FaultInjector | undefined;

  private check(op: FsOp, path: string): void {
    if (this.recordLog) this.log.push({ op, path });
    const err = this.fault?.(op, path);
    if (err) throw err;
  }

  private inode(path: string, op: string): Inode {
    const inode = this.entries.get(path);
    if (!inode) throw new IoError(`memfs: ${op} ${JSON.stringify(path)} failed (ENOENT)`);
    return inode;
  }

  mkdirp(dir: string): void {
    this.check('mkdir', dir);
    let d = dir.replace(/\/+$/, '') || '/';
    while (!this.dirs.has(d)) {
      this.dirs.add(d);
      d = parentOf(d);
    }
  }

  list(dir: string): string[] {
    this.check('list', dir);
    const d = dir.replace(/\/+$/, '') || '/';
    if (!this.dirs.has(d)) throw new IoError(`memfs: list ${JSON.stringify(dir)} failed (ENOENT)`);
    const prefix = d === '/' ? '/' : `${d}/`;
    const names: string[] = [];
    for (const path of this.entries.keys()) {
      if (path.startsWith(prefix) && !path.slice(prefix.length).includes('/')) names.push(path.slice(prefix.length));
    }
    return names.sort();
  }

  exists(path: string): boolean {
    return this.entries.has(path) || this.dirs.has(path);
  }

  createWritable(path: string): WritableFile {
    this.check('create', path);
    if (!this.dirs.has(parentOf(path))) throw new IoError(`memfs: create ${JSON.stringify(path)} failed (ENOENT)`);
    const inode = newInode();
    this.entries.set(path, inode);
    return this.writable(path, inode);
  }

  private writable(path: string, inode: Inode): WritableFile {
    const check = this.check.bind(this);
    let closed = false;
    return {
      path,
      append(data: Uint8Array) {
        if (closed) throw new IoError(`memfs: append to closed file ${JSON.stringify(path)}`);
        check('append', path);
        if (inode.length + data.length > inode.data.length) {
          const grown = new Uint8Array(Math.max(inode.data.length * 2, inode.length + data.length));
          grown.set(inode.data.subarray(0, inode.length));
          inode.data = grown;
        }
        inode.data.set(data, inode.length);
        inode.length += data.length;
      },
      async sync() {
        check('sync', path);
        inode.durable = inode.data.slice(0, inode.length);
        inode.durableLength = inode.length;
      },
      size: () => inode.length,
      close() {
        closed = true;
      },
    };
  }

  openReadable(path: string): ReadableFile {
    this.check('open', path);
    const inode = this.inode(path, 'open');
    const check = this.check.bind(this);
    const size = inode.length;
    return {
      path,
      size,
      read(offset: number, length: number) {
        check('read', path);
        const end = Math.min(size, offset + length);
        return inode.data.slice(Math.min(offset, end), end);
      },
      readInto(offset: number, out: Uint8Array, length = out.length) {
        check('read', path);
        const end = Math.min(size, offset + Math.min(length, out.length));
        const start = Math.min(offset, end);
        out.set(inode.data.subarray(start, end));
        return end - start;
      },
      close() {},
    };
  }

  readAll(path: string): Uint8Array {
    this.check('read', path);
    const inode = this.inode(path, 'read');
    return inode.data.slice(0, inode.length);
  }

  rename(from: string, to: string): void {
    this.check('rename', from);
    const inode = this.inode(from, 'rename');
    this.entries.delete(from);
    this.entries.set(to, inode);
  }

  remove(path: string): void {
    this.check('remove', path);
    this.entries.delete(path);
  }

  failedRemovals = 0;

  /**
   * At once: crash-state exploration needs every effect in call order. A failure (an injected
   * fault) is counted, not thrown, as on the real disk.
   */
  removeSoon(path: string): void {
    try {
      this.remove(path);
    } catch {
      this.failedRemovals++;
    }
  }

  async drain(): Promise<void> {}

  async syncDir(dir: string): Promise<void> {
    this.check('syncDir', dir);
    const d = dir.replace(/\/+$/, '') || '/';
    for (const path of [...this.durableEntries.keys()]) {
      if (parentOf(path) === d) this.durableEntries.delete(path);
    }
    for (const [path, inode] of this.entries) {
      if (parentOf(path) === d) this.durableEntries.set(path, inode);
    }
  }

  lock(path: string): FileLock {
    this.check('lock', path);
    if (this.locks.has(path)) throw new DbLockedError(`memfs: ${JSON.stringify(path)} is already locked`);
    this.locks.add(path);
    return { release: () => this.locks.delete(path) };
  }

  /** Bytes of a file as the OS sees it now (for tests that corrupt files). */
  peek(path: string): Uint8Array {
    const inode = this.inode(path, 'peek');
    return inode.data.slice(0, inode.length);
  }

  /** Replaces a file's contents, durably (for tests that corrupt files). */
  poke(path: string, data: Uint8Array): void {
    const inode = this.entries.get(path) ?? newInode();
    inode.data = data.slice();
    inode.length = data.length;
    inode.durable = data.slice();
    inode.durableLength = data.length;
    this.entries.set(path, inode);
    this.durableEntries.set(path, inode);
  }

  /**
   * The file system a machine crash would leave. By default a random prefix of each file's
   * unsynced tail survives (a torn write) and each unsynced directory change happens or not
   * at random. `tornWrites: false` keeps only synced bytes. For exhaustive exploration,
   * `data` and `entries` pin the two choices: 'drop' keeps only what was synced, 'keep'
   * keeps everything as if the OS had written it all back, 'random' decides per file.
   */
  crash(seed: number, options: CrashOptions = {}): MemoryFileSystem {
    const random = seededRandom(seed);
    const data = options.data ?? (options.tornWrites === false ? 'drop' : 'random');
    const entries = options.entries ?? 'random';
    const after = new MemoryFileSystem();
    after.dirs = new Set(this.dirs);
    const survivors = new Map<string, Inode>();
    const paths = new Set([...this.entries.keys(), ...this.durableEntries.keys()]);
    for (const path of [...paths].sort()) {
      const now = this.entries.get(path);
      const durable = this.durableEntries.get(path);
      // An entry whose current and durable states agree is certain; otherwise it depends.
      const keepNow = entries === 'keep' || (entries === 'random' && random() < 0.5);
      const inode = now === durable ? now : keepNow ? now : durable;
      if (inode) survivors.set(path, inode);
    }
    const copies = new Map<Inode, Inode>();
    for (const [path, inode] of survivors) {
      let copy = copies.get(inode);
      if (!copy) {
        const unsynced = this.isPrefixExtension(inode) ? inode.length - inode.durableLength : 0;
        const kept = data === 'keep' ? unsynced : data === 'drop' ? 0 : Math.floor(random() * (unsynced + 1));
        const keep = inode.durableLength + kept;
        const bytes = keep <= inode.durableLength ? inode.durable.slice(0, keep) : inode.data.slice(0, keep);
        copy = { data: bytes, length: bytes.length, durable: bytes.slice(), durableLength: bytes.length };
        copies.set(inode, copy);
      }
      after.entries.set(path, copy);
      after.durableEntries.set(path, copy);
    }
    return after;
  }

  private isPrefixExtension(inode: Inode): boolean {
    for (let i = 0; i < inode.durableLength; i++) if (inode.data[i] !== inode.durable[i]) return false;
    return true;
  }
}
