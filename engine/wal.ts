/**
 * The write-ahead log: one file per memtable generation, holding encoded write batches
 * (write-batch.ts) as records of the log format (log/). A write is appended before it is
 * applied to the memtable, and acknowledged only after the append (and, with sync, the fsync).
 */
import { joinPath, type FileSystem, type WritableFile } from './fs/file-system.ts';
import { LogReader } from './log/log-reader.ts';
import { LogWriter } from './log/log-writer.ts';
import { walFileName } from './version/file-meta.ts';
import { decodeBatch, type DecodedBatch } from './write-batch.ts';

export class WalWriter {
  private readonly log = new LogWriter(0);
  private constructor(
    readonly number: number,
    private readonly file: WritableFile,
  ) {}

  /** Creates WAL `number` and makes its directory entry durable, so a sync of it means something. */
  static async create(fs: FileSystem, dir: string, number: number): Promise<WalWriter> {
    const file = fs.createWritable(joinPath(dir, walFileName(number)));
    await fs.syncDir(dir);
    return new WalWriter(number, file);
  }

  /** Hands one encoded batch to the OS. */
  append(batch: Uint8Array): void {
    // append() is synchronous and done with the bytes when it returns: the frame buffer is reused.
    this.file.append(this.log.frameReused(batch));
  }

  sync(): Promise<void> {
    return this.file.sync();
  }

  bytes(): number {
    return this.file.size();
  }

  close(): void {
    this.file.close();
  }
}

export interface WalReplayReport {
  records: number;
  droppedBytes: number;
  skippedBytes: number;
}

/** Replays WAL `number`, handing each complete batch to `apply` in order. */
export function replayWal(
  fs: FileSystem,
  dir: string,
  number: number,
  skipCorruption: boolean,
  apply: (batch: DecodedBatch) => void,
): WalReplayReport {
  const path = joinPath(dir, walFileName(number));
  const reader = new LogReader(fs.readAll(path), path, { skipCorruption });
  let records = 0;
  for (let record = reader.next(); record !== undefined; record = reader.next()) {
    apply(decodeBatch(record, path));
    records++;
  }
  return { records, droppedBytes: reader.droppedBytes, skippedBytes: reader.skippedBytes };
}
