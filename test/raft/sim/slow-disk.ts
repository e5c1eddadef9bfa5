/**
 * A file system for the simulator whose fsyncs take simulated time: `sync` and `syncDir`
 * complete a seeded number of sub-steps later, on the simulator's clock. Meanwhile the member
 * keeps receiving messages and ticks, so the core is stepped between `ready()` and
 * `advance()`, as it is in production while a real fsync runs. Every other call goes straight
 * to the MemoryFileSystem underneath, which is where crash states are taken from: what a
 * pending sync has not yet made durable is lost, torn or kept by a crash.
 */
import type { FileLock, FileSystem, MemoryFileSystem, ReadableFile, WritableFile } from '../../../engine/index.ts';

/** Resolves after `subSteps` of simulated time (at once for 0). */
export type SimSleep = (subSteps: number) => Promise<void>;

export class SlowDisk implements FileSystem {
  /** Syncs waiting for their simulated time. */
  pendingSyncs = 0;

  constructor(readonly inner: MemoryFileSystem, private readonly sleep: SimSleep, private readonly delay: () => number) {}

  private async wait(): Promise<void> {
    this.pendingSyncs++;
    try {
      await this.sleep(this.delay());
    } finally {
      this.pendingSyncs--;
    }
  }

  get failedRemovals(): number {
    return this.inner.failedRemovals;
  }

  mkdirp(dir: string): void { this.inner.mkdirp(dir); }
  list(dir: string): string[] { return this.inner.list(dir); }
  exists(path: string): boolean { return this.inner.exists(path); }
  openReadable(path: string): ReadableFile { return this.inner.openReadable(path); }
  readAll(path: string): Uint8Array { return this.inner.readAll(path); }
  rename(from: string, to: string): void { this.inner.rename(from, to); }
  remove(path: string): void { this.inner.remove(path); }
  removeSoon(path: string): void { this.inner.removeSoon(path); }
  drain(): Promise<void> { return this.inner.drain(); }
  lock(path: string): FileLock { return this.inner.lock(path); }

  createWritable(path: string): WritableFile {
    const file = this.inner.createWritable(path);
    return {
      path,
      append: (data) => file.append(data),
      sync: async () => {
        await this.wait();
        await file.sync();
      },
      size: () => file.size(),
      close: () => file.close(),
    };
  }

  async syncDir(dir: string): Promise<void> {
    await this.wait();
    await this.inner.syncDir(dir);
  }
}
