/**
 * The engine as an abstract-level database (`DistribkvLevel`), so it plugs into the Level
 * ecosystem: encodings, sublevels, chained batches, hooks, events, explicit and implicit
 * snapshots, seek, getMany, has and clear all come from abstract-level around a Db. It passes
 * abstract-level's own test suite (test/abstract-level/).
 *
 * A separate entry point rather than a re-export of index.ts: it needs the `abstract-level`
 * package, which the rest of the engine (and the cluster) does not.
 *
 * Mapping (abstract-level's private API receives exactly what its README describes):
 * - Keys and values cross as Uint8Array (the `view` format); abstract-level transcodes every
 *   other encoding to and from it.
 * - Implicit snapshots: `_get`/`_getMany` read synchronously (the engine's reads are), and an
 *   iterator takes an engine snapshot when it is created and releases it when closed.
 * - Explicit snapshots wrap an engine Snapshot, released by `snapshot.close()`.
 * - Writes pass `sync` through; other options of the constructor that name engine options
 *   (`memtableBytes`, `sync`, `fileSystem`, ...) configure the Db.
 * - Engine errors keep their codes' meaning under LEVEL_ names (LEVEL_CORRUPTION,
 *   LEVEL_IO_ERROR, LEVEL_LOCKED, ...) with the engine error as `cause`.
 *
 * Concurrency: every call goes straight to the Db, whose own rules apply (db.ts).
 */
import { AbstractIterator, AbstractLevel, AbstractSnapshot } from 'abstract-level';
import { Db, type DbOpenOptions, type ReadOptions } from './db.ts';
import type { BatchOperation } from './db-arguments.ts';
import type { EntryIterator } from './entry-iterator.ts';
import { DbError, type DbErrorCode } from './errors.ts';
import { joinPath } from './fs/file-system.ts';
import { NodeFileSystem } from './fs/node-file-system.ts';
import { DEFAULT_OPTIONS } from './options.ts';
import { keySuccessor } from './range-tombstones.ts';
import { compareBytes } from './util/bytes.ts';
import type { Snapshot } from './snapshot.ts';

/** An error with a LEVEL_ code, as abstract-level's errors carry. */
export class LevelError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LevelError';
  }
}

const LEVEL_CODES: Partial<Record<DbErrorCode, string>> = {
  CORRUPTION: 'LEVEL_CORRUPTION',
  IO_ERROR: 'LEVEL_IO_ERROR',
  DB_LOCKED: 'LEVEL_LOCKED',
  DB_CLOSED: 'LEVEL_DATABASE_NOT_OPEN',
  NOT_FOUND: 'LEVEL_NOT_FOUND',
};

/** An engine error under its LEVEL_ code (the original as cause); anything else unchanged. */
function toLevelError(err: unknown): unknown {
  if (!(err instanceof DbError)) return err;
  return new LevelError(LEVEL_CODES[err.code] ?? `LEVEL_${err.code}`, err.message, { cause: err });
}

async function engineCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toLevelError(err);
  }
}

type Format = Uint8Array;
type Options = Record<string, unknown>;
/** The options abstract-level hands `_iterator` and `_clear`: range bounds already encoded. */
type RangeOptions = { gt?: Format; gte?: Format; lt?: Format; lte?: Format; reverse: boolean; limit: number; snapshot?: unknown };

export type DistribkvLevelOptions = DbOpenOptions & Options;

// abstract-level's typings leave out the constructor argument that AbstractSnapshot requires.
const SnapshotBase = AbstractSnapshot as unknown as new (options: unknown) => AbstractSnapshot;

class DistribkvSnapshot extends SnapshotBase {
  constructor(
    readonly engineSnapshot: Snapshot,
    options: unknown,
  ) {
    super(options);
  }

  async _close(): Promise<void> {
    this.engineSnapshot.release();
  }
}

const ENGINE_OPTION_NAMES = new Set([...Object.keys(DEFAULT_OPTIONS), 'fileSystem']);

/**
 * @example
 * ```ts
 * const db = new DistribkvLevel('./data/level', { valueEncoding: 'json' });
 * await db.put('user:1', { name: 'ada' });
 * const users = db.sublevel('users');
 * for await (const [key, value] of db.iterator({ gte: 'user:', lt: 'user;' })) {}
 * await db.close();
 * ```
 */
export class DistribkvLevel extends AbstractLevel<Format, string, string> {
  private engine: Db | undefined;
  private readonly engineOptions: DbOpenOptions;

  constructor(
    readonly location: string,
    options: DistribkvLevelOptions = {},
  ) {
    super(
      {
        encodings: { view: true },
        seek: true,
        implicitSnapshots: true,
        explicitSnapshots: true,
        permanence: true,
        createIfMissing: true,
        errorIfExists: true,
        has: true,
        signals: { iterators: false },
      },
      options as never,
    );
    const engineOptions: Options = {};
    for (const [name, value] of Object.entries(options)) if (ENGINE_OPTION_NAMES.has(name)) engineOptions[name] = value;
    this.engineOptions = engineOptions as DbOpenOptions;
  }

  /** The open Db. REQUIRES: abstract-level has opened this database (it checks before calling in). */
  get engineDb(): Db {
    return this.engine!;
  }

  async _open(options: { createIfMissing: boolean; errorIfExists: boolean }): Promise<void> {
    const fs = this.engineOptions.fileSystem ?? new NodeFileSystem();
    if (options.errorIfExists && fs.exists(joinPath(this.location, 'CURRENT'))) {
      throw new LevelError('LEVEL_DATABASE_EXISTS', `level: database ${JSON.stringify(this.location)} already exists and errorIfExists is true`);
    }
    this.engine = await engineCall(() => Db.open(this.location, { ...this.engineOptions, fileSystem: fs, createIfMissing: options.createIfMissing }));
  }

  async _close(): Promise<void> {
    const engine = this.engine;
    this.engine = undefined;
    await engineCall(async () => engine?.close());
  }

  async _get(key: Format, options: Options): Promise<Format | undefined> {
    return engineCall(() => this.engineDb.get(key, readOptions(options)));
  }

  async _getMany(keys: Format[], options: Options): Promise<Array<Format | undefined>> {
    // One engine call: every key is read at one sequence number.
    return engineCall(() => this.engineDb.getMany(keys, readOptions(options)));
  }

  async _has(key: Format, options: Options): Promise<boolean> {
    return (await this._get(key, options)) !== undefined;
  }

  async _hasMany(keys: Format[], options: Options): Promise<boolean[]> {
    return (await this._getMany(keys, options)).map((v) => v !== undefined);
  }

  async _put(key: Format, value: Format, options: Options): Promise<void> {
    await engineCall(() => this.engineDb.put(key, value, writeOptions(options)));
  }

  async _del(key: Format, options: Options): Promise<void> {
    await engineCall(() => this.engineDb.delete(key, writeOptions(options)));
  }

  async _batch(operations: Array<{ type: 'put' | 'del'; key: Format; value?: Format }>, options: Options): Promise<void> {
    const ops = operations.map((op): BatchOperation => (op.type === 'put' ? { type: 'put', key: op.key, value: op.value! } : { type: 'del', key: op.key }));
    await engineCall(() => this.engineDb.batch(ops, writeOptions(options)));
  }

  /**
   * Deletes the range. Without a limit or an explicit snapshot: one range tombstone
   * (Db.deleteRange), whatever the number of keys. Otherwise as seen by a snapshot (the given
   * one, or one taken now), key by key in batches: a tombstone would also delete keys written
   * after the snapshot, and cannot stop after `limit` keys.
   */
  async _clear(options: RangeOptions): Promise<void> {
    if (options.snapshot == null && options.limit < 0) {
      const range = await this.rangeToDelete(options);
      if (range === 'empty') return;
      if (range !== undefined) {
        await engineCall(() => this.engineDb.deleteRange(range));
        return;
      }
    }
    const explicit = engineSnapshotOf(options.snapshot);
    const snapshot = explicit ?? this.engineDb.snapshot();
    const it = this.engineDb.iterator({ ...engineRange(options), reverse: options.reverse, limit: options.limit, snapshot });
    try {
      for (let entries = await engineCall(() => it.nextBatch(CLEAR_BATCH_KEYS)); entries.length > 0; entries = await engineCall(() => it.nextBatch(CLEAR_BATCH_KEYS))) {
        await engineCall(() => this.engineDb.batch(entries.map(([key]): BatchOperation => ({ type: 'del', key }))));
      }
    } finally {
      await it.return();
      if (explicit === undefined) snapshot.release();
    }
  }

  /**
   * abstract-level's range as [gte, lt): gt and lte become their successors (key ++ 0x00);
   * an open upper end becomes the successor of the last key there is now. 'empty' when nothing
   * lies in it; undefined when a bound would pass keyBytesMax (clear then goes key by key).
   */
  private async rangeToDelete(options: RangeOptions): Promise<{ gte: Format; lt: Format } | 'empty' | undefined> {
    const range = engineRange(options);
    const gte = range.gte ?? (range.gt !== undefined ? keySuccessor(range.gt) : new Uint8Array(0));
    let lt = range.lt ?? (range.lte !== undefined ? keySuccessor(range.lte) : undefined);
    if (lt === undefined) {
      const last = await engineCall(() => this.lastKeyAtOrAbove(gte));
      if (last === undefined) return 'empty';
      lt = keySuccessor(last);
    }
    if (compareBytes(gte, lt) >= 0) return 'empty';
    const keyBytesMax = this.engineDb.options.keyBytesMax;
    return gte.length > keyBytesMax || lt.length > keyBytesMax ? undefined : { gte, lt };
  }

  /** The largest key now in the database, if it is at least `gte`. */
  private async lastKeyAtOrAbove(gte: Format): Promise<Format | undefined> {
    const it = this.engineDb.iterator({ gte, reverse: true, limit: 1 });
    try {
      return (await it.nextBatch(1))[0]?.[0];
    } finally {
      await it.return();
    }
  }

  _iterator(options: RangeOptions & { keys: boolean; values: boolean }): DistribkvIterator {
    return new DistribkvIterator(this, options);
  }

  _snapshot(options: unknown): AbstractSnapshot {
    return new DistribkvSnapshot(this.engineDb.snapshot(), options);
  }
}

/** Keys deleted per batch by clear(). */
const CLEAR_BATCH_KEYS = 1000;

function engineSnapshotOf(snapshot: unknown): Snapshot | undefined {
  return snapshot instanceof DistribkvSnapshot ? snapshot.engineSnapshot : undefined;
}

function readOptions(options: Options): ReadOptions | undefined {
  const snapshot = engineSnapshotOf(options.snapshot);
  return snapshot === undefined ? undefined : { snapshot };
}

function writeOptions(options: Options): { sync: boolean } | undefined {
  return typeof options.sync === 'boolean' ? { sync: options.sync } : undefined;
}

/** The engine's bounds for abstract-level's range: gte wins over gt and lte over lt, as in abstract-level. */
function engineRange(options: RangeOptions): { gt?: Format; gte?: Format; lt?: Format; lte?: Format } {
  const range: { gt?: Format; gte?: Format; lt?: Format; lte?: Format } = {};
  if (options.gte != null) range.gte = options.gte;
  else if (options.gt != null) range.gt = options.gt;
  if (options.lte != null) range.lte = options.lte;
  else if (options.lt != null) range.lt = options.lt;
  return range;
}

// abstract-level's typings do not declare the implementer methods (_next, _seek, ...).
const IteratorBase = AbstractIterator as unknown as new (db: DistribkvLevel, options: unknown) => { db: DistribkvLevel; readonly limit: number; readonly count: number };

/**
 * An abstract-level iterator over an EntryIterator. It reads at a snapshot taken when it is
 * created (the caller's explicit one, or its own), so a seek after the end, which needs a
 * fresh EntryIterator, still reads the same state.
 */
class DistribkvIterator extends IteratorBase {
  private it: EntryIterator;
  private ended = false;
  private readonly snapshot: Snapshot;
  private readonly ownSnapshot: boolean;

  constructor(
    level: DistribkvLevel,
    private readonly options: RangeOptions & { keys: boolean; values: boolean },
  ) {
    super(level, options);
    const explicit = engineSnapshotOf(options.snapshot);
    this.snapshot = explicit ?? level.engineDb.snapshot();
    this.ownSnapshot = explicit === undefined;
    this.it = this.open();
  }

  async _next(): Promise<[Format | undefined, Format | undefined] | undefined> {
    const [entry] = await this._nextv(1);
    return entry;
  }

  async _nextv(size: number): Promise<Array<[Format | undefined, Format | undefined]>> {
    if (this.ended) return [];
    const entries = await engineCall(() => this.it.nextBatch(size));
    if (entries.length < size) this.ended = true;
    const { keys, values } = this.options;
    if (keys && values) return entries;
    return entries.map(([k, v]) => [keys ? k : undefined, values ? v : undefined]);
  }

  /** The rest, up to the limit (abstract-level caps nextv's size by it, but not all's). */
  async _all(): Promise<Array<[Format | undefined, Format | undefined]>> {
    const out: Array<[Format | undefined, Format | undefined]> = [];
    let left = this.limit - this.count;
    while (left > 0) {
      const batch = await this._nextv(Math.min(ALL_BATCH_ENTRIES, left));
      if (batch.length === 0) break;
      for (const entry of batch) out.push(entry);
      left -= batch.length;
    }
    return out;
  }

  _seek(target: Format): void {
    if (this.ended) {
      // The EntryIterator released what it pinned at its end: start another at the same snapshot.
      void this.it.return();
      this.it = this.open();
      this.ended = false;
    }
    try {
      this.it.seek(target);
    } catch (err) {
      throw toLevelError(err);
    }
  }

  async _close(): Promise<void> {
    await this.it.return();
    if (this.ownSnapshot) this.snapshot.release();
  }

  private open(): EntryIterator {
    const { reverse } = this.options;
    return this.db.engineDb.iterator({ ...engineRange(this.options), reverse, snapshot: this.snapshot });
  }
}

/** Entries read per step by all(). */
const ALL_BATCH_ENTRIES = 1000;
