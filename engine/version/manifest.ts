/**
 * The MANIFEST and CURRENT files: the durable record of the LSM shape.
 *
 * MANIFEST-NNNNNN is a log (log-format.ts) of version edits; its first record is a snapshot of
 * the whole state. CURRENT holds the name of the live MANIFEST and a newline, and is switched
 * atomically: write CURRENT.tmp, fsync it, rename it over CURRENT, fsync the directory.
 * An edit is acted upon (files deleted, WALs dropped) only after its record is fsynced.
 * Recovery reads CURRENT, replays the MANIFEST's edits, and drops a torn final record (an edit
 * that was never fsynced, so never acted upon).
 */
import { CorruptionError } from '../errors.ts';
import { joinPath, type FileSystem, type WritableFile } from '../fs/file-system.ts';
import { LogReader } from '../log/log-reader.ts';
import { LogWriter } from '../log/log-writer.ts';
import { manifestFileName } from './file-meta.ts';
import { decodeVersionEdit, encodeVersionEdit, type VersionEdit } from './version-edit.ts';
import { Version } from './version.ts';

/** CURRENT is one short line; anything longer is corruption, not a name. */
const CURRENT_BYTES_MAX = 64;

export interface RecoveredState {
  manifestNumber: number;
  version: Version;
  logNumber: number;
  nextFileNumber: number;
  lastSequence: number;
  compactPointers: Map<number, Uint8Array>;
  /** Bytes of a torn final edit that were dropped. */
  droppedBytes: number;
}

export class ManifestWriter {
  private constructor(
    readonly number: number,
    private readonly file: WritableFile,
    private readonly log: LogWriter,
  ) {}

  /** Writes a new MANIFEST holding `snapshot`, makes it durable, and points CURRENT at it. */
  static async create(fs: FileSystem, dir: string, number: number, snapshot: VersionEdit): Promise<ManifestWriter> {
    const name = manifestFileName(number);
    const file = fs.createWritable(joinPath(dir, name));
    const writer = new ManifestWriter(number, file, new LogWriter(0));
    await writer.append(snapshot);
    // The new MANIFEST's directory entry must be durable before CURRENT can name it: the
    // rename in setCurrent may reach the disk before an unsynced create does.
    await fs.syncDir(dir);
    await setCurrent(fs, dir, name);
    return writer;
  }

  /** Appends one edit and fsyncs it: when this resolves, the edit survives a crash. */
  async append(edit: VersionEdit): Promise<void> {
    this.file.append(this.log.frame(encodeVersionEdit(edit)));
    await this.file.sync();
  }

  close(): void {
    this.file.close();
  }
}

async function setCurrent(fs: FileSystem, dir: string, manifestName: string): Promise<void> {
  const temp = joinPath(dir, 'CURRENT.tmp');
  const file = fs.createWritable(temp);
  file.append(new TextEncoder().encode(`${manifestName}\n`));
  await file.sync();
  file.close();
  fs.rename(temp, joinPath(dir, 'CURRENT'));
  await fs.syncDir(dir);
}

/** The MANIFEST file name CURRENT points at. */
export function readCurrent(fs: FileSystem, dir: string): string {
  const bytes = fs.readAll(joinPath(dir, 'CURRENT'));
  const text = new TextDecoder().decode(bytes.subarray(0, CURRENT_BYTES_MAX + 1));
  if (bytes.length > CURRENT_BYTES_MAX || !/^MANIFEST-\d{6,}\n$/.test(text)) {
    throw new CorruptionError(`manifest: CURRENT does not name a MANIFEST: ${JSON.stringify(text.slice(0, 40))}`, {
      file: joinPath(dir, 'CURRENT'),
    });
  }
  return text.slice(0, -1);
}

/** Rebuilds the LSM shape from CURRENT and the MANIFEST it names. */
export function recoverManifest(fs: FileSystem, dir: string): RecoveredState {
  const name = readCurrent(fs, dir);
  const path = joinPath(dir, name);
  if (!fs.exists(path)) throw new CorruptionError(`manifest: CURRENT names missing ${name}`, { file: joinPath(dir, 'CURRENT') });
  const reader = new LogReader(fs.readAll(path), path);
  let version = Version.empty();
  const state = { logNumber: 0, nextFileNumber: 0, lastSequence: 0 };
  const compactPointers = new Map<number, Uint8Array>();
  let records = 0;
  for (let record = reader.next(); record !== undefined; record = reader.next()) {
    const edit = decodeVersionEdit(record, path);
    try {
      version = version.apply(edit);
    } catch (cause) {
      throw new CorruptionError('manifest: edit breaks the version invariants', { file: path, cause });
    }
    if (edit.logNumber !== undefined) state.logNumber = edit.logNumber;
    if (edit.nextFileNumber !== undefined) state.nextFileNumber = edit.nextFileNumber;
    if (edit.lastSequence !== undefined) state.lastSequence = Math.max(state.lastSequence, edit.lastSequence);
    for (const [level, key] of edit.compactPointers ?? []) compactPointers.set(level, key);
    records++;
  }
  if (records === 0) throw new CorruptionError('manifest: no complete edit', { file: path });
  if (state.nextFileNumber === 0) throw new CorruptionError('manifest: no next file number', { file: path });
  const manifestNumber = Number(name.slice('MANIFEST-'.length));
  return { manifestNumber, version, ...state, compactPointers, droppedBytes: reader.droppedBytes };
}
