/**
 * Holds the node's engine, `<data>/db`, and can swap it for an empty one: a follower that must
 * take a snapshot (its data diverged, or is too far behind) closes the engine, destroys its
 * files (Db.destroy) and opens a fresh one, because the engine can neither truncate its log nor move
 * its sequence number backward.
 *
 * `store` is the view the HTTP handlers use: it always reaches the current engine, and passes
 * client writes through the write gate (write-gate.ts). A request that meets the engine while
 * it is being swapped gets DB_CLOSED (503), and only followers are ever swapped.
 */
import path from 'node:path';
import { Db, type DbOpenOptions } from '../../engine/index.ts';
import type { Store } from '../store.ts';
import { WriteGate } from './write-gate.ts';

/** The engine's directory inside a node's data directory. */
export const ENGINE_DIR = 'db';

export class DbHolder {
  readonly gate = new WriteGate();
  readonly store: Store;
  private current: Db;

  private constructor(private readonly dir: string, private readonly options: DbOpenOptions, db: Db) {
    this.current = db;
    this.store = storeView(this);
  }

  /**
   * Opens `<dataDir>/db`; with `empty`, destroys its files first. A node whose install mark is
   * set opens it empty: a crash in the middle of emptying the engine can leave files the engine
   * rightly refuses to open (a WAL without CURRENT), and the data is partial anyway.
   */
  static async open(dataDir: string, options: DbOpenOptions, empty = false): Promise<DbHolder> {
    const dir = path.join(dataDir, ENGINE_DIR);
    if (empty) await Db.destroy(dir, options);
    return new DbHolder(dir, options, await Db.open(dir, options));
  }

  get db(): Db {
    return this.current;
  }

  /** Replaces the engine with an empty one. REQUIRES: nothing writes to it meanwhile (a follower). */
  async wipe(): Promise<void> {
    await this.current.close();
    await Db.destroy(this.dir, this.options);
    this.current = await Db.open(this.dir, this.options);
  }

  close(): Promise<void> {
    return this.current.close();
  }
}

/** The node's keys are bytes already; the engine's API also takes strings. */
function keyBytes(key: Uint8Array | string): Uint8Array {
  return typeof key === 'string' ? encoder.encode(key) : key;
}

const encoder = new TextEncoder();

function storeView(holder: DbHolder): Store {
  return {
    get: (key, options) => holder.db.get(key, options),
    getMany: (keys, options) => holder.db.getMany(keys, options),
    put: (key, value, options) => holder.gate.write(() => holder.db.put(key, value, options), [keyBytes(key)]),
    delete: (key, options) => holder.gate.write(() => holder.db.delete(key, options), [keyBytes(key)]),
    batch: (ops, options) => holder.gate.write(() => holder.db.batch(ops, options), ops.flatMap((op) => ('key' in op ? [keyBytes(op.key)] : []))),
    iterator: (options) => holder.db.iterator(options),
    get lastSequence() {
      return holder.db.lastSequence;
    },
    close: () => holder.db.close(),
  };
}
