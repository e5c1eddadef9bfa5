/**
 * The benchmark's view of lmdb-js (LMDB, a memory-mapped B+tree, native).
 *
 * lmdb-js reads synchronously (so an "awaited" get awaits a plain value) and writes
 * asynchronously: every put and remove issued in one event turn goes into one transaction,
 * committed on lmdb-js's writer thread; a batch is 1,000 calls in one turn, awaited together.
 * Raw bytes in and out: `keyEncoding: 'binary'`, `encoding: 'binary'`.
 *
 * Durability: a sync store is opened with lmdb-js's defaults (each commit waits for the
 * flush; `overlappingSync` lets the next commit start meanwhile); a non-sync store with
 * `noSync: true` (commits never fsync, like LevelDB without `sync`).
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import { BATCH_OPS, sameBytes, type BenchCursor, type BenchStore, type StoreFactory } from '../store.ts';

type Db = RootDatabase<Uint8Array, Uint8Array>;

class LmdbCursor implements BenchCursor {
  private readonly it: Iterator<unknown>;
  constructor(db: Database<Uint8Array, Uint8Array>, reverse: boolean) {
    this.it = db.getRange({ reverse })[Symbol.iterator]();
  }
  next(): boolean {
    return !this.it.next().done;
  }
  nextBatch(): number {
    let n = 0;
    while (n < BATCH_OPS && !this.it.next().done) n++;
    return n;
  }
  close(): void {
    this.it.return?.();
  }
}

class LmdbStore implements BenchStore {
  readonly engine = 'lmdb';
  constructor(
    readonly dir: string,
    private readonly db: Db,
  ) {}

  put(key: Uint8Array, value: Uint8Array): Promise<unknown> {
    return this.db.put(key, value);
  }

  putBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[]): Promise<unknown> {
    let last: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < keys.length; i++) last = this.db.put(keys[i]!, values[i]!);
    return last;
  }

  del(key: Uint8Array): Promise<unknown> {
    return this.db.remove(key);
  }

  delBatch(keys: readonly Uint8Array[]): Promise<unknown> {
    let last: Promise<unknown> = Promise.resolve();
    for (const key of keys) last = this.db.remove(key);
    return last;
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
    return new LmdbCursor(this.db, reverse);
  }

  async seek(key: Uint8Array): Promise<boolean> {
    for (const { key: found } of this.db.getRange({ start: key, limit: 1 })) return sameBytes(found, key);
    return false;
  }

  async seekBatch(keys: readonly Uint8Array[]): Promise<number> {
    let found = 0;
    for (const key of keys) if (await this.seek(key)) found++;
    return found;
  }

  /** Waits for the last commit to be flushed; LMDB has no background work beyond that. */
  async settle(): Promise<void> {
    await this.db.flushed;
  }

  figures() {
    return {};
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const lmdb: StoreFactory = {
  engine: 'lmdb',
  async open(dir: string, sync: boolean): Promise<BenchStore> {
    const db = open<Uint8Array, Uint8Array>({ path: dir, keyEncoding: 'binary', encoding: 'binary', noSync: !sync });
    return new LmdbStore(dir, db);
  },
};
