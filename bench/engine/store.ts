/**
 * What the benchmark asks of each engine: the same operations, each in its library's own
 * idiom, so that every workload runs unchanged against distribkv, classic-level and lmdb.
 * One store is one open database in its own directory.
 *
 * "Single" calls are one awaited operation each; "batch" calls carry up to BATCH_OPS.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const BATCH_OPS = 1000;

export type EngineName = 'distribkv' | 'classic-level' | 'lmdb';
export const ENGINES: readonly EngineName[] = ['distribkv', 'classic-level', 'lmdb'];

/** A cursor over the whole database, forward or backward. */
export interface BenchCursor {
  /** Steps one entry; false at the end. */
  next(): Promise<boolean> | boolean;
  /** Reads up to BATCH_OPS entries; how many (0 at the end). */
  nextBatch(): Promise<number> | number;
  close(): Promise<void> | void;
}

/** Figures about the store's own work, where the engine reports them. */
export interface StoreFigures {
  /** Bytes written to disk over bytes of keys and values written, since open. */
  writeAmplification?: number;
  /** Bytes in the engine's live files, as the engine counts them. */
  liveBytes?: number;
  /** Milliseconds writes waited for flushes and compactions, since open. */
  stallMs?: number;
  /** The shape of the tree, e.g. "L0:3 L1:5 L2:40". */
  shape?: string;
}

export interface BenchStore {
  readonly engine: EngineName;
  readonly dir: string;
  put(key: Uint8Array, value: Uint8Array): Promise<unknown>;
  putBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[]): Promise<unknown>;
  del(key: Uint8Array): Promise<unknown>;
  delBatch(keys: readonly Uint8Array[]): Promise<unknown>;
  /** The value's length, or -1 when absent (so no engine pays to hand back more). */
  get(key: Uint8Array): Promise<number>;
  /** How many of `keys` are present. */
  getBatch(keys: readonly Uint8Array[]): Promise<number>;
  cursor(reverse: boolean): BenchCursor;
  /** A new iterator, a seek to `key`, one entry read: whether that entry's key is `key`. */
  seek(key: Uint8Array): Promise<boolean>;
  /** One iterator, a seek and one entry per key: how many were found. */
  seekBatch(keys: readonly Uint8Array[]): Promise<number>;
  /** Waits (unmeasured) until background work such as compaction has stopped. */
  settle(): Promise<void>;
  figures(): StoreFigures;
  close(): Promise<void>;
}

export interface StoreFactory {
  readonly engine: EngineName;
  /** `sync`: every write waits for its fsync (see docs/benchmarks.md for each engine's flag). */
  open(dir: string, sync: boolean): Promise<BenchStore>;
}

/**
 * Bytes of every file under `dir` (apparent sizes), for an engine-neutral "bytes on disk". A
 * file deleted between the listing and its stat (an engine's background unlink) counts zero.
 */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path, { throwIfNoEntry: false });
    if (s === undefined) continue;
    total += s.isDirectory() ? directoryBytes(path) : s.size;
  }
  return total;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Polls `done` every `intervalMs` until it holds or `timeoutMs` passes. */
export async function waitUntil(done: () => boolean, intervalMs: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
