/**
 * Every option and limit of the engine, with its default, validated once at open.
 * Names carry their unit last (`memtableBytes`, `keyBytesMax`).
 */
import { InvalidArgumentError } from './errors.ts';

export interface DbOptions {
  /** fsync the WAL before acknowledging each write (default false, as in LevelDB). */
  sync: boolean;
  /** A memtable is frozen and flushed once it holds this many bytes. */
  memtableBytes: number;
  /** Largest key accepted. */
  keyBytesMax: number;
  /** Largest value accepted. */
  valueBytesMax: number;
  /** Largest write batch accepted, in operations. */
  batchOpsMax: number;
  /** Create the directory if it does not exist. */
  createIfMissing: boolean;
  /** Skip damaged WAL blocks instead of refusing to open (LevelDB's paranoid_checks off). */
  skipWalCorruption: boolean;
  /** Block cache budget. */
  blockCacheBytes: number;
  /**
   * Open table files kept in the table cache (LevelDB's max_open_files, whose default this is).
   * Each open table holds its index and filter in memory (about 35 KiB for a 2 MiB table).
   * Reads slow down sharply once the database has more tables than this (a lookup in a table
   * not open reads its index and filter first), and 10,000,000 keys of 116 bytes make about
   * 560 tables of 2 MiB: hence 1000 rather than 500.
   */
  tableCacheFilesMax: number;
  /** Target size of an SSTable's data blocks before compression of nothing. */
  blockBytes: number;
  /** Target size of one compaction output table. */
  tableBytesTarget: number;
  /** Target size of level 1; each deeper level is `levelSizeMultiplier` times larger. */
  levelOneBytes: number;
  levelSizeMultiplier: number;
  /** L0 file counts: compact at the first, slow writes at the second, stop them at the third. */
  l0CompactionTrigger: number;
  l0SlowdownTrigger: number;
  l0StopTrigger: number;
  /** Bytes compactions still owe: writes slow down past the first and stop past the second. */
  pendingCompactionBytesSlowdown: number;
  pendingCompactionBytesStop: number;
  /** Bloom filter bits per key (about 1% false positives at 10). */
  bloomBitsPerKey: number;
  /** Writers waiting in the group-commit queue before new writes are rejected. */
  writeQueueMax: number;
  /**
   * Run compactions on a worker thread (default true), as LevelDB runs them on a background
   * thread: the event loop keeps serving reads and writes while tables merge. Only on the
   * real file system; a MemoryFileSystem lives in this thread's memory, so its compactions
   * always run here, between the event loop's other work.
   */
  compactionThread: boolean;
  /**
   * Split a large getMany's table lookups between this thread and a read thread (default
   * false), as classic-level's getMany runs on libuv's thread pool. Only on the real file
   * system. It takes about half of a batch off the event loop, but costs about 25% more CPU
   * in all (docs/decisions.md): turn it on when a core is otherwise idle, not on a machine
   * whose cores are already busy. With it on, the two threads share `blockCacheBytes` half and
   * half, and the read thread keeps up to half of `tableCacheFilesMax` tables open besides
   * this thread's (it reads the upper half of each batch's keys).
   */
  readThread: boolean;
}

export const DEFAULT_OPTIONS: Readonly<DbOptions> = Object.freeze({
  sync: false,
  memtableBytes: 4 * 1024 * 1024,
  keyBytesMax: 64 * 1024,
  valueBytesMax: 64 * 1024 * 1024,
  batchOpsMax: 1_000_000,
  createIfMissing: true,
  skipWalCorruption: false,
  blockCacheBytes: 8 * 1024 * 1024,
  tableCacheFilesMax: 1000,
  blockBytes: 4 * 1024,
  tableBytesTarget: 2 * 1024 * 1024,
  levelOneBytes: 10 * 1024 * 1024,
  levelSizeMultiplier: 10,
  l0CompactionTrigger: 4,
  l0SlowdownTrigger: 8,
  l0StopTrigger: 12,
  pendingCompactionBytesSlowdown: 1024 * 1024 * 1024,
  pendingCompactionBytesStop: 4 * 1024 * 1024 * 1024,
  bloomBitsPerKey: 10,
  writeQueueMax: 100_000,
  compactionThread: true,
  readThread: false,
});

/** Absolute bounds on the options themselves, so a typo cannot ask for 1 TiB of memtable. */
const NUMBER_RANGES: { [K in keyof DbOptions]?: [number, number] } = {
  memtableBytes: [1024, 1024 * 1024 * 1024],
  keyBytesMax: [1, 64 * 1024 * 1024],
  valueBytesMax: [0, 1024 * 1024 * 1024],
  batchOpsMax: [1, 100_000_000],
  blockCacheBytes: [0, 64 * 1024 * 1024 * 1024],
  tableCacheFilesMax: [8, 1_000_000],
  blockBytes: [256, 1024 * 1024],
  tableBytesTarget: [4096, 1024 * 1024 * 1024],
  levelOneBytes: [4096, 1024 * 1024 * 1024 * 1024],
  levelSizeMultiplier: [2, 100],
  l0CompactionTrigger: [1, 1000],
  l0SlowdownTrigger: [1, 1000],
  l0StopTrigger: [1, 1000],
  pendingCompactionBytesSlowdown: [1024 * 1024, Number.MAX_SAFE_INTEGER],
  pendingCompactionBytesStop: [1024 * 1024, Number.MAX_SAFE_INTEGER],
  bloomBitsPerKey: [0, 64],
  writeQueueMax: [1, 10_000_000],
};

/** Merges user options over the defaults; unknown names and bad values are INVALID_ARGUMENT. */
export function resolveOptions(input: unknown): DbOptions {
  if (input === undefined) return { ...DEFAULT_OPTIONS };
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidArgumentError(`options must be an object, got ${input === null ? 'null' : typeof input}`);
  }
  const out: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  for (const [name, value] of Object.entries(input)) {
    if (!(name in DEFAULT_OPTIONS)) throw new InvalidArgumentError(`Unknown option ${JSON.stringify(name)}`);
    if (value === undefined) continue;
    const expected = typeof (DEFAULT_OPTIONS as unknown as Record<string, unknown>)[name];
    if (typeof value !== expected) {
      throw new InvalidArgumentError(`Option ${JSON.stringify(name)} must be a ${expected}, got ${typeof value}`);
    }
    const range = NUMBER_RANGES[name as keyof DbOptions];
    if (range && (!Number.isInteger(value) || (value as number) < range[0] || (value as number) > range[1])) {
      throw new InvalidArgumentError(`Option ${JSON.stringify(name)} must be an integer in [${range[0]}, ${range[1]}], got ${String(value)}`);
    }
    out[name] = value;
  }
  const options = out as unknown as DbOptions;
  if (!(options.l0CompactionTrigger <= options.l0SlowdownTrigger && options.l0SlowdownTrigger <= options.l0StopTrigger)) {
    throw new InvalidArgumentError('Options must satisfy l0CompactionTrigger <= l0SlowdownTrigger <= l0StopTrigger');
  }
  return options;
}

// ---- Internal limits: fixed bounds on what the engine holds or runs at once (not options) ----

/** Frozen memtables allowed before writes wait for a flush (LevelDB allows one). */
export const IMMUTABLE_MEMTABLES_MAX = 2;
/** A flush or an inline compaction yields to the event loop every this many entries. */
export const YIELD_ENTRIES = 512;
/** Finished output tables whose fsync may still run while the next one is built. */
export const SYNCS_IN_FLIGHT_MAX = 2;
/**
 * Unlinks of obsolete files running at once: they share libuv's thread pool (4 threads) with
 * the fsyncs that sync writes wait for, so a sweep of many files must not queue ahead of them.
 */
export const UNLINKS_IN_FLIGHT_MAX = 2;
/**
 * Tables the compaction thread keeps open: a job's L0 inputs are open together, a level's one
 * at a time, so this bounds the thread's file handles apart from the table cache's own.
 */
export const THREAD_TABLE_CACHE_FILES_MAX = 64;
/** A compaction reads its inputs in chunks this large (TableReader.setReadahead). */
export const COMPACTION_READAHEAD_BYTES = 256 * 1024;
/** Times the directory lock is retried when LOCK is replaced while being taken (fs/file-lock.ts). */
export const LOCK_OPEN_ATTEMPTS_MAX = 3;
/**
 * getMany hands part of its lookups to the read thread only from this many keys needing a
 * table (fewer do not repay the messages: a round trip costs tens of microseconds).
 */
export const READ_THREAD_KEYS_MIN = 64;
/** Slots of the block cache's ghost table (see BlockCache.admitOnMiss), a power of two. */
export const GHOST_SLOTS_MIN = 64;
export const GHOST_SLOTS_MAX = 1 << 22;
