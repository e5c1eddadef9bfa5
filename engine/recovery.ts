/**
 * Opening a database directory: read CURRENT and the MANIFEST, replay the WALs the MANIFEST
 * does not cover into a memtable, and report what a crash left behind (torn tails dropped).
 * Runs once, before the database serves anything.
 */
import { CorruptionError } from './errors.ts';
import type { FileSystem } from './fs/file-system.ts';
import { Memtable } from './memtable/memtable.ts';
import { manifestFileName, parseFileName, tableFileName, walFileName } from './version/file-meta.ts';
import { recoverManifest, type RecoveredState } from './version/manifest.ts';
import { Version } from './version/version.ts';
import { replayWal } from './wal.ts';

export interface RecoveryReport {
  /** WAL files replayed, oldest first. */
  walNumbers: number[];
  batchesReplayed: number;
  /** Bytes of torn tails dropped (WALs and MANIFEST). */
  droppedBytes: number;
  /** Bytes skipped as corrupt (only with skipWalCorruption). */
  skippedBytes: number;
}

export interface RecoveredDb extends RecoveredState {
  /** Memtables rebuilt from the WALs, oldest first; each remembers its WAL's number. */
  memtables: Memtable[];
  report: RecoveryReport;
}

const DB_FILE_TYPES = new Set(['table', 'wal', 'manifest']);

export function recover(fs: FileSystem, dir: string, skipWalCorruption: boolean): RecoveredDb {
  const names = fs.list(dir);
  const state = names.includes('CURRENT') ? recoverManifest(fs, dir) : freshState(dir, names);
  checkTablesExist(state, names, dir);
  let highestNumber = state.nextFileNumber - 1;
  const walNumbers: number[] = [];
  for (const name of names) {
    const parsed = parseFileName(name);
    if (!parsed || !('number' in parsed)) continue;
    highestNumber = Math.max(highestNumber, parsed.number);
    if (parsed.type === 'wal' && parsed.number >= state.logNumber) walNumbers.push(parsed.number);
  }
  walNumbers.sort((a, b) => a - b);
  checkLogNumberWal(state, walNumbers, dir);
  const report: RecoveryReport = { walNumbers, batchesReplayed: 0, droppedBytes: state.droppedBytes, skippedBytes: 0 };
  const memtables: Memtable[] = [];
  let lastSequence = state.lastSequence;
  for (const number of walNumbers) {
    const mem = new Memtable(number);
    const replay = replayWal(fs, dir, number, skipWalCorruption, (batch) => {
      for (let i = 0; i < batch.ops.length; i++) {
        const op = batch.ops[i]!;
        mem.add(op.key, batch.seq + i, op.kind, op.value);
      }
      lastSequence = Math.max(lastSequence, batch.seq + batch.ops.length - 1);
    });
    report.batchesReplayed += replay.records;
    report.droppedBytes += replay.droppedBytes;
    report.skippedBytes += replay.skippedBytes;
    if (!mem.isEmpty) memtables.push(mem);
  }
  return { ...state, lastSequence, nextFileNumber: highestNumber + 1, memtables, report };
}

/**
 * Every table the MANIFEST names must exist. One missing means the MANIFEST lost an edit that
 * was acted upon (a damaged final record read as a torn tail) or a file was removed by hand.
 */
function checkTablesExist(state: RecoveredState, names: string[], dir: string): void {
  const present = new Set(names);
  for (const files of state.version.levels) {
    for (const f of files) {
      if (!present.has(tableFileName(f.number))) {
        throw new CorruptionError(`recovery: ${manifestFileName(state.manifestNumber)} names missing table ${tableFileName(f.number)}`, {
          file: `${dir}/${manifestFileName(state.manifestNumber)}`,
        });
      }
    }
  }
}

/**
 * The WAL at `logNumber` holds the oldest unflushed writes and is deleted only after a later
 * edit moves `logNumber` past it. So if it is missing while a newer WAL exists, the MANIFEST
 * lost an edit that was acted upon (a flush whose table it no longer names): refuse, rather
 * than open without that flush's data. (With no newer WAL, a crash between writing a new
 * MANIFEST and creating its WAL explains it, and no write was acknowledged in between.)
 */
function checkLogNumberWal(state: RecoveredState, walNumbers: number[], dir: string): void {
  if (walNumbers.length === 0 || walNumbers[0] === state.logNumber || state.manifestNumber === 0) return;
  throw new CorruptionError(
    `recovery: ${manifestFileName(state.manifestNumber)} says unflushed writes start in ${walFileName(state.logNumber)}, which is missing while ${walFileName(walNumbers[0]!)} exists`,
    { file: `${dir}/${manifestFileName(state.manifestNumber)}` },
  );
}

/** The state of a directory with no CURRENT: new, unless it already holds database files. */
function freshState(dir: string, names: string[]): RecoveredState {
  const stray = names.find((name) => {
    const parsed = parseFileName(name);
    // A MANIFEST without CURRENT is a first open that crashed before CURRENT was written.
    return parsed !== undefined && DB_FILE_TYPES.has(parsed.type) && parsed.type !== 'manifest';
  });
  if (stray !== undefined) {
    throw new CorruptionError(`recovery: CURRENT is missing but ${JSON.stringify(stray)} exists`, { file: `${dir}/CURRENT` });
  }
  return {
    manifestNumber: 0,
    version: Version.empty(),
    logNumber: 0,
    nextFileNumber: 1,
    lastSequence: 0,
    compactPointers: new Map(),
    droppedBytes: 0,
  };
}
