/**
 * The benchmark's view of this engine, through its public API (engine/index.ts) only.
 * Durability: `Db.open(dir, { sync })`, so every write of a sync store waits for its fsync.
 */
import { Db, type BatchOperation, type EntryIterator } from '../../../engine/index.ts';
import { BATCH_OPS, sameBytes, waitUntil, type BenchCursor, type BenchStore, type StoreFactory, type StoreFigures } from '../store.ts';

const SETTLE_POLL_MS = 20;
const SETTLE_TIMEOUT_MS = 120_000;

class DistribkvCursor implements BenchCursor {
  constructor(private readonly it: EntryIterator) {}
  async next(): Promise<boolean> {
    return !(await this.it.next()).done;
  }
  async nextBatch(): Promise<number> {
    return (await this.it.nextBatch(BATCH_OPS)).length;
  }
  async close(): Promise<void> {
    await this.it.return();
  }
}

class DistribkvStore implements BenchStore {
  readonly engine = 'distribkv';
  constructor(
    readonly dir: string,
    private readonly db: Db,
  ) {}

  put(key: Uint8Array, value: Uint8Array): Promise<unknown> {
    return this.db.put(key, value);
  }

  putBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[]): Promise<unknown> {
    const ops: BatchOperation[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) ops[i] = { type: 'put', key: keys[i]!, value: values[i]! };
    return this.db.batch(ops);
  }

  del(key: Uint8Array): Promise<unknown> {
    return this.db.delete(key);
  }

  delBatch(keys: readonly Uint8Array[]): Promise<unknown> {
    return this.db.batch(keys.map((key): BatchOperation => ({ type: 'del', key })));
  }

  async get(key: Uint8Array): Promise<number> {
    const value = await this.db.get(key);
    return value === undefined ? -1 : value.length;
  }

  async getBatch(keys: readonly Uint8Array[]): Promise<number> {
    const values = await this.db.getMany(keys);
    let found = 0;
    for (const v of values) if (v !== undefined) found++;
    return found;
  }

  cursor(reverse: boolean): BenchCursor {
    return new DistribkvCursor(this.db.iterator({ reverse }));
  }

  async seek(key: Uint8Array): Promise<boolean> {
    const it = this.db.iterator();
    it.seek(key);
    const first = await it.next();
    await it.return();
    return !first.done && sameBytes(first.value[0], key);
  }

  async seekBatch(keys: readonly Uint8Array[]): Promise<number> {
    const it = this.db.iterator();
    let found = 0;
    for (const key of keys) {
      it.seek(key);
      const first = await it.next();
      if (!first.done && sameBytes(first.value[0], key)) found++;
    }
    await it.return();
    return found;
  }

  /** Idle once no memtable waits for a flush and no level is over its compaction target. */
  async settle(): Promise<void> {
    await waitUntil(() => this.idle(), SETTLE_POLL_MS, SETTLE_TIMEOUT_MS);
  }

  private idle(): boolean {
    const stats = this.db.stats();
    const o = this.db.options;
    if (stats.immutableMemtables > 0 || stats.levels[0]!.files >= o.l0CompactionTrigger) return false;
    for (let level = 1; level < stats.levels.length - 1; level++) {
      if (stats.levels[level]!.bytes >= o.levelOneBytes * o.levelSizeMultiplier ** (level - 1)) return false;
    }
    return true;
  }

  figures(): StoreFigures {
    const stats = this.db.stats();
    let liveBytes = stats.walBytes;
    for (const l of stats.levels) liveBytes += l.bytes;
    const shape = stats.levels.filter((l) => l.files > 0).map((l) => `L${l.level}:${l.files}`).join(' ');
    return { writeAmplification: stats.writeAmplification, liveBytes, stallMs: stats.stallMs, shape };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const distribkv: StoreFactory = {
  engine: 'distribkv',
  async open(dir: string, sync: boolean): Promise<BenchStore> {
    return new DistribkvStore(dir, await Db.open(dir, { sync }));
  },
};
