/**
 * The engine's public face. Everything outside engine/ imports from here and nowhere else.
 *
 * @example
 * ```ts
 * const db = await Db.open('./data');
 * await db.put('greeting', 'hello', { sync: true });
 * const value = await db.get('greeting'); // Uint8Array of "hello"
 * for await (const [key, value] of db.iterator({ gte: 'a', lt: 'b' })) {}
 * await db.close();
 * ```
 */
export { Db, type DbOpenOptions, type WriteOptions, type ReadOptions, type CommitListener } from './db.ts';
export type { BatchOperation, IteratorOptions, KeyLike, KeyRange } from './db-arguments.ts';
export type { EntryIterator, Entry } from './entry-iterator.ts';
export { Snapshot } from './snapshot.ts';
export type { LsmVerifyReport } from './lsm-tree.ts';
export { DEFAULT_OPTIONS, type DbOptions } from './options.ts';
export {
  DbError,
  CorruptionError,
  IoError,
  InvalidArgumentError,
  DbClosedError,
  DbLockedError,
  NotFoundError,
  type DbErrorCode,
} from './errors.ts';
export type { FileSystem, WritableFile, ReadableFile, FileLock, FsOp } from './fs/file-system.ts';
export { NodeFileSystem } from './fs/node-file-system.ts';
export { MemoryFileSystem, seededRandom, type CrashOptions, type FaultInjector } from './fs/memory-file-system.ts';
export { joinPath } from './fs/file-system.ts';
export { LogWriter } from './log/log-writer.ts';
export { LogReader } from './log/log-reader.ts';
export { decodeBatch, encodeBatch, type BatchOp, type DecodedBatch } from './write-batch.ts';
export { ValueKind } from './internal-key.ts';
export { crc32c } from './util/crc32c.ts';
