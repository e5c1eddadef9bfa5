/**
 * A member's durable Raft state (hard state, log, snapshot) in one directory, through the
 * engine's file-system seam, so MemoryFileSystem's crash states cover it.
 * Record layout: raft-log-format.ts; files and crash safety: docs/formats/raft-log.md.
 *
 *   raft-GGGGGGGG.log    the current log: HEADER (names its snapshot), HARD, ENTRIES records
 *   raft-GGGGGGGG.snap   a snapshot: one SNAPSHOT record
 *
 * The newest log generation is the state. Appends go to its end: an ENTRIES record whose
 * first index is at or below the last stored index truncates the suffix (a follower's
 * conflicting entries), so truncation is an append and a torn one leaves the log as it was.
 * A new generation is written by `rotate` (at open, on compaction, on installing a leader's
 * snapshot): the snapshot file first (temp, fsync, rename, directory fsync), then the whole
 * retained state as a new log the same way; older files are removed only after both are
 * durable. A crash at any point leaves either the old generation or the new one complete.
 *
 * Concurrency: one caller at a time (the driver awaits each call before the next). Every
 * acknowledged change is fsynced before the returned promise resolves.
 *
 * Invariants (asserted before writing, checked as corruption after reading):
 * 1. Stored entries are contiguous, start right after the snapshot, and commit ≤ last index.
 * 2. Only the snapshot's own generation and the newest log survive a completed rotation.
 */
import { joinPath, LogReader, LogWriter, type FileSystem, type WritableFile } from '../../engine/index.ts';
import { RaftError, raftAssert } from './raft-errors.ts';
import {
  decodeRecord, encodeEntries, encodeHardState, encodeHeader, encodeSnapshot, RAFT_LOG_FORMAT_VERSION, RecordKind, type LogHeader,
} from './raft-log-format.ts';
import type { RaftInitialState } from './raft.ts';
import { EMPTY_HARD_STATE, type Entry, type HardState, type NodeId, type Snapshot } from './raft-types.ts';

const LOG_NAME = /^raft-(\d{8})\.log$/;
const SNAPSHOT_NAME = /^raft-(\d{8})\.snap$/;
const EMPTY_SNAPSHOT: Snapshot = Object.freeze({ index: 0, term: 0, voters: [], data: new Uint8Array(0) });

const logName = (generation: number) => `raft-${String(generation).padStart(8, '0')}.log`;
const snapshotName = (generation: number) => `raft-${String(generation).padStart(8, '0')}.snap`;

/** What a Ready asks the storage to persist. */
export interface PersistRequest {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly mustSync: boolean;
}

export class RaftStorage {
  private hardStateValue: HardState = EMPTY_HARD_STATE;
  private snapshotValue: Snapshot = EMPTY_SNAPSHOT;
  private snapshotGeneration = 0;
  private entries: Entry[] = [];
  private nextGeneration = 1;
  private file: WritableFile | undefined;
  private writer: LogWriter | undefined;
  private closed = false;

  private constructor(private readonly fs: FileSystem, private readonly dir: string) {}

  /**
   * Opens (or creates) the state in `dir`, dropping a torn tail, and starts a new generation.
   *
   * @example
   * ```ts
   * const storage = await RaftStorage.open(new NodeFileSystem(), './data/raft');
   * if (storage.fresh) await storage.bootstrap(['n1', 'n2', 'n3']);
   * const node = new RaftNode({ id: 'n1', random, state: storage.initialState() });
   * await storage.save(node.ready());  // then send, apply, node.advance()
   * ```
   */
  static async open(fs: FileSystem, dir: string): Promise<RaftStorage> {
    const storage = new RaftStorage(fs, dir);
    fs.mkdirp(dir);
    storage.load();
    await storage.rotate(undefined);
    return storage;
  }

  /** The state to build a RaftNode from (copies: the node may not share the storage's arrays). */
  initialState(): RaftInitialState {
    return { hardState: this.hardStateValue, snapshot: this.snapshotValue, entries: [...this.entries] };
  }

  /** True until the first bootstrap or snapshot: nothing but an empty log was ever stored. */
  get fresh(): boolean {
    return this.snapshotGeneration === 0 && this.entries.length === 0 && this.hardStateValue.term === 0;
  }

  get snapshot(): Snapshot {
    return this.snapshotValue;
  }

  get hardState(): HardState {
    return this.hardStateValue;
  }

  lastIndex(): number {
    return this.snapshotValue.index + this.entries.length;
  }

  /** Founding members store the first configuration as the snapshot at index 0. */
  async bootstrap(voters: readonly NodeId[]): Promise<void> {
    if (!this.fresh) throw new RaftError('INVALID_ARGUMENT', `raft storage ${this.dir}: already holds state; bootstrap only a fresh member`);
    this.snapshotValue = { index: 0, term: 0, voters: [...voters], data: new Uint8Array(0) };
    await this.rotate(this.snapshotValue);
  }

  /** Persists a Ready: a leader's snapshot (replacing the log), then entries, then the hard state. */
  async save(request: PersistRequest): Promise<void> {
    this.checkOpen();
    if (request.snapshot) {
      this.snapshotValue = request.snapshot;
      this.entries = [];
      this.appendToMirror(request.entries);
      if (request.hardState) this.hardStateValue = request.hardState;
      this.checkInvariants();
      await this.rotate(request.snapshot);
      return;
    }
    if (request.entries.length > 0) {
      this.appendToMirror(request.entries);
      this.appendRecord(encodeEntries(request.entries));
    }
    if (request.hardState) {
      this.hardStateValue = request.hardState;
      this.appendRecord(encodeHardState(request.hardState));
    }
    this.checkInvariants();
    if (request.mustSync) await this.file!.sync();
  }

  /** A local snapshot of the state machine: store it, then drop the entries it covers. */
  async compact(snapshot: Snapshot): Promise<void> {
    this.checkOpen();
    if (snapshot.index <= this.snapshotValue.index) return;
    const term = this.entries[snapshot.index - this.snapshotValue.index - 1]?.term;
    raftAssert(term === snapshot.term, () => `raft storage: snapshot ${snapshot.index}/${snapshot.term} does not match the stored entry (term ${term})`);
    this.entries = this.entries.slice(snapshot.index - this.snapshotValue.index);
    this.snapshotValue = snapshot;
    await this.rotate(snapshot);
  }

  close(): void {
    this.closed = true;
    this.file?.close();
    this.file = undefined;
  }

  private checkOpen(): void {
    if (this.closed) throw new RaftError('STOPPED', `raft storage ${this.dir}: used after close`);
  }

  private appendRecord(payload: Uint8Array): void {
    this.file!.append(this.writer!.frame(payload));
  }

  private appendToMirror(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    raftAssert(first > this.snapshotValue.index && first <= this.lastIndex() + 1, () => `raft storage: entries from ${first} do not fit after snapshot ${this.snapshotValue.index} and last ${this.lastIndex()}`);
    this.entries.length = first - this.snapshotValue.index - 1;
    for (const entry of entries) this.entries.push(entry);
  }

  private checkInvariants(): void {
    raftAssert(Math.max(this.hardStateValue.commit, this.snapshotValue.index) <= this.lastIndex(), () => `raft storage: commit ${this.hardStateValue.commit} is past the last index ${this.lastIndex()}`);
  }

  // ——— Reading ———

  private load(): void {
    const names = this.fs.list(this.dir);
    let newestLog = 0;
    for (const name of names) {
      if (name.endsWith('.tmp')) this.fs.remove(joinPath(this.dir, name)); // a rotation that did not finish
      const generation = Number(LOG_NAME.exec(name)?.[1] ?? SNAPSHOT_NAME.exec(name)?.[1] ?? 0);
      this.nextGeneration = Math.max(this.nextGeneration, generation + 1);
      if (LOG_NAME.test(name)) newestLog = Math.max(newestLog, generation);
    }
    if (newestLog > 0) this.replay(newestLog);
  }

  private readRecords(name: string): ReturnType<typeof decodeRecord>[] {
    const path = joinPath(this.dir, name);
    const reader = new LogReader(this.fs.readAll(path), path);
    const records = [];
    for (let payload = reader.next(); payload !== undefined; payload = reader.next()) records.push(decodeRecord(payload, path));
    return records;
  }

  private replay(generation: number): void {
    const name = logName(generation);
    const [first, ...rest] = this.readRecords(name);
    if (first?.kind !== RecordKind.Header) throw new RaftError('CORRUPTION', `raft storage: ${name} does not start with a header record`);
    this.loadSnapshot(first.header, name);
    for (const record of rest) {
      if (record.kind === RecordKind.HardState) this.hardStateValue = record.hardState;
      else if (record.kind === RecordKind.Entries) this.replayEntries(record.entries, name);
      else throw new RaftError('CORRUPTION', `raft storage: ${name} holds a record of kind ${record.kind} after its header`);
    }
    const commit = Math.max(this.hardStateValue.commit, this.snapshotValue.index);
    if (commit > this.lastIndex()) throw new RaftError('CORRUPTION', `raft storage: ${name} commits ${commit} but holds entries only to ${this.lastIndex()}`);
    this.hardStateValue = { ...this.hardStateValue, commit };
  }

  private loadSnapshot(header: LogHeader, logFile: string): void {
    this.snapshotGeneration = header.snapshotGeneration;
    if (header.snapshotGeneration === 0) return;
    const name = snapshotName(header.snapshotGeneration);
    if (!this.fs.exists(joinPath(this.dir, name))) throw new RaftError('CORRUPTION', `raft storage: ${logFile} follows ${name}, which is missing`);
    const records = this.readRecords(name);
    const record = records[0];
    if (records.length !== 1 || record?.kind !== RecordKind.Snapshot) throw new RaftError('CORRUPTION', `raft storage: ${name} does not hold exactly one snapshot record`);
    if (record.snapshot.index !== header.snapshotIndex || record.snapshot.term !== header.snapshotTerm) {
      throw new RaftError('CORRUPTION', `raft storage: ${name} is at ${record.snapshot.index}/${record.snapshot.term}, ${logFile} expects ${header.snapshotIndex}/${header.snapshotTerm}`);
    }
    this.snapshotValue = record.snapshot;
  }

  private replayEntries(entries: Entry[], name: string): void {
    const first = entries[0]?.index;
    if (first === undefined) return;
    if (first <= this.snapshotValue.index || first > this.lastIndex() + 1) {
      throw new RaftError('CORRUPTION', `raft storage: ${name} has entries from ${first}, which do not fit after snapshot ${this.snapshotValue.index} and last ${this.lastIndex()}`);
    }
    this.appendToMirror(entries);
  }

  // ——— Rotation ———

  /** Writes a new generation holding the whole state (and `snapshot`, if new); see the file comment. */
  private async rotate(snapshot: Snapshot | undefined): Promise<void> {
    const generation = this.nextGeneration++;
    if (snapshot) {
      (await this.writeDurably(snapshotName(generation), [encodeSnapshot(snapshot)])).file.close();
      this.snapshotGeneration = generation;
    }
    const header = { version: RAFT_LOG_FORMAT_VERSION, snapshotGeneration: this.snapshotGeneration, snapshotIndex: this.snapshotValue.index, snapshotTerm: this.snapshotValue.term };
    const records = [encodeHeader(header), encodeHardState(this.hardStateValue)];
    if (this.entries.length > 0) records.push(encodeEntries(this.entries));
    const { file, writer } = await this.writeDurably(logName(generation), records);
    this.file?.close();
    this.file = file;
    this.writer = writer;
    for (const name of this.fs.list(this.dir)) {
      const obsoleteLog = LOG_NAME.test(name) && name !== logName(generation);
      const obsoleteSnapshot = SNAPSHOT_NAME.test(name) && name !== snapshotName(this.snapshotGeneration);
      if (obsoleteLog || obsoleteSnapshot) this.fs.removeSoon(joinPath(this.dir, name));
    }
  }

  /** temp file, fsync, rename, directory fsync: the file appears whole or not at all. */
  private async writeDurably(name: string, records: Uint8Array[]): Promise<{ file: WritableFile; writer: LogWriter }> {
    const path = joinPath(this.dir, name);
    const file = this.fs.createWritable(`${path}.tmp`);
    const writer = new LogWriter(0);
    for (const record of records) file.append(writer.frame(record));
    await file.sync();
    this.fs.rename(`${path}.tmp`, path);
    await this.fs.syncDir(this.dir);
    return { file, writer };
  }
}
