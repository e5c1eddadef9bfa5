/**
 * The benchmark's view of classic-level (LevelDB 1.2x, native, through Node-API).
 *
 * Configured like this engine: 4 MiB write buffer, 8 MiB block cache, 4 KiB blocks, a
 * 10-bit bloom filter (classic-level always sets one) and no compression, since this engine
 * has none and the values are random bytes anyway. Durability: the `sync` write option on
 * every put, del and batch of a sync store (LevelDB's WriteOptions.sync).
 */
import { ClassicLevel } from 'classic-level';
import { BATCH_OPS, sameBytes, waitUntil, type BenchCursor, type BenchStore, type StoreFactory } from '../store.ts';

type Level = ClassicLevel<Uint8Array, Uint8Array>;
type LevelIterator = ReturnType<Level['iterator']>;

const SETTLE_POLL_MS = 100;
const SETTLE_STABLE_POLLS = 3;
const SETTLE_TIMEOUT_MS = 120_000;

class ClassicCursor implements BenchCursor {
  constructor(private readonly it: LevelIterator) {}
  async next(): Promise<boolean> {
    return (await this.it.next()) !== undefined;
  }
  async nextBatch(): Promise<number> {
    return (await this.it.nextv(BATCH_OPS)).length;
  }
  close(): Promise<void> {
    return this.it.close();
  }
}

class ClassicStore implements BenchStore {
  readonly engine = 'classic-level';
  /**
   * Undefined unless sync: abstract-level takes a fast path for calls without options, and
   * passing `{ sync: false }` measured 3-4x slower on batches (a pessimization no user needs).
   */
  private readonly writeOptions: { sync: true } | undefined;

  constructor(
    readonly dir: string,
    private readonly db: Level,
    sync: boolean,
  ) {
    this.writeOptions = sync ? { sync: true } : undefined;
  }

  put(key: Uint8Array, value: Uint8Array): Promise<unknown> {
    return this.writeOptions ? this.db.put(key, value, this.writeOptions) : this.db.put(key, value);
  }

  putBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[]): Promise<unknown> {
    const ops = keys.map((key, i) => ({ type: 'put' as const, key, value: values[i]! }));
    return this.writeOptions ? this.db.batch(ops, this.writeOptions) : this.db.batch(ops);
  }

  del(key: Uint8Array): Promise<unknown> {
    return this.writeOptions ? this.db.del(key, this.writeOptions) : this.db.del(key);
  }

  delBatch(keys: readonly Uint8Array[]): Promise<unknown> {
    const ops = keys.map((key) => ({ type: 'del' as const, key }));
    return this.writeOptions ? this.db.batch(ops, this.writeOptions) : this.db.batch(ops);
  }

  async get(key: Uint8Array): Promise<number> {
    const value = await this.db.get(key);
    return value === undefined ? -1 : value.length;
  }

  async getBatch(keys: readonly Uint8Array[]): Promise<number> {
    const values = await this.db.getMany(keys as Uint8Array[]);
    let found = 0;
    for (const v of values) if (v !== undefined) found++;
    return found;
  }

  cursor(reverse: boolean): BenchCursor {
    // highWaterMarkBytes: room for a whole nextv(1000) of 116-byte entries, as its README advises.
    return new ClassicCursor(this.db.iterator({ reverse, highWaterMarkBytes: 256 * 1024 }));
  }

  async seek(key: Uint8Array): Promise<boolean> {
    const it = this.db.iterator();
    it.seek(key);
    const first = await it.next();
    await it.close();
    return first !== undefined && sameBytes(first[0], key);
  }

  async seekBatch(keys: readonly Uint8Array[]): Promise<number> {
    const it = this.db.iterator();
    let found = 0;
    for (const key of keys) {
      it.seek(key);
      const first = await it.next();
      if (first !== undefined && sameBytes(first[0], key)) found++;
    }
    await it.close();
    return found;
  }

  /** LevelDB compacts on its own thread and says nothing of it but its stats: wait for them to hold still. */
  async settle(): Promise<void> {
    let last = '';
    let stable = 0;
    await waitUntil(
      () => {
        const now = this.db.getProperty('leveldb.stats');
        stable = now === last ? stable + 1 : 0;
        last = now;
        return stable >= SETTLE_STABLE_POLLS;
      },
      SETTLE_POLL_MS,
      SETTLE_TIMEOUT_MS,
    );
  }

  figures() {
    const shape = Array.from({ length: 7 }, (_, level) => [level, Number(this.db.getProperty(`leveldb.num-files-at-level${level}`))])
      .filter(([, files]) => files! > 0)
      .map(([level, files]) => `L${level}:${files}`)
      .join(' ');
    return { shape };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const classicLevel: StoreFactory = {
  engine: 'classic-level',
  async open(dir: string, sync: boolean): Promise<BenchStore> {
    const db: Level = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      compression: false,
      writeBufferSize: 4 * 1024 * 1024,
      cacheSize: 8 * 1024 * 1024,
      blockSize: 4096,
    });
    await db.open();
    return new ClassicStore(dir, db, sync);
  },
};
