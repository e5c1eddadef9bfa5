/**
 * The follower's half of replication as a pure state machine (etcd raft's step/Ready/advance
 * shape; see leader-machine.ts). The shell (follower.ts) opens the stream the machine asks for,
 * feeds it the decoded frames, carries out the engine and disk work it lists, in order, one item
 * at a time, and tells it when each is done; it sends the position reports the machine asks for.
 * No timers, sockets, engine or clock inside.
 *
 * It owns: the connection's life (when to connect, from where, backoff after failures, the
 * watchdog that drops a silent leader), the session (the leader and term that said hello, the
 * next sequence number expected, a snapshot being installed), the install state (the one and
 * only `installing`, mirrored durably in the node state), the position (`applied`, the engine's
 * last sequence number as confirmed by finished work), the leader's last sequence number, report
 * coalescing, the anti-entropy checkpoint, the min_seq read waiters, and a retention log of the
 * batches it applied (served if the node is promoted).
 *
 * Rules it enforces on the wire: every frame of a session carries the hello's term or a newer
 * one (an older one is refused); batches arrive contiguous from the position asked for; a
 * snapshot's chunks come between its begin and end and add up to the count the end names.
 * Anything else drops the stream (the shell closes it); the follower reconnects from its own
 * position, so nothing damaged or out of place is ever applied.
 *
 * Snapshot install, crash-safe: persist `installing` (durably), empty the engine, write the
 * entries, move the sequence number to the snapshot's (durably), persist `installing: false`.
 * A broken stream in between leaves the mark set; the recovery (`recoveryWork`: empty the
 * engine, clear the mark) runs before the next stream opens. A crash leaves it set too, and
 * the node empties its engine as it opens it (open-node.ts).
 * While the mark is set the node is not readable (replica reads go to the leader).
 *
 * Reports: after each applied run while the leader wants them so (the default at every
 * stream's start), or at most every N ms once a heartbeat frame said `reportIntervalMs` N (the
 * leader's rule is in leader-machine.ts); a heartbeat saying 0 again asks for one at once. Also
 * after the hello, an install and a checkpoint, when idle at least every 4 heartbeat
 * intervals, and at the next tick after one failed (in either mode).
 *
 * Invariants: work items are done in the order listed and `done`/`failed` name the oldest one;
 * `disconnected` arrives only when no work is pending; a report is asked for only when no work
 * is pending, so the position it carries is the engine's.
 */
import type { TermEntry, Frame } from '../../protocol/frame-format.ts';
import { newerHistory } from './term-history.ts';
import type { LogLine } from './machine-types.ts';
import { RetentionLog } from './retention-log.ts';

export interface FollowerMachineOptions {
  address: string;
  heartbeatIntervalMs: number;
  retentionBytesMax: number;
  retentionBatchesMax: number;
  followerSync: boolean;
  batchesPerRunMax: number;
  checkpointKeepMs: number;
  retryDelayMaxMs: number;
}

export interface FollowerInit {
  /** The engine's last sequence number. */
  applied: number;
  /** The persisted node state (never with the install mark: open-node.ts clears it at start-up). */
  dataTerm: number;
  history: readonly TermEntry[];
  /** Whom the metadata names as the shard's leader, at which term. */
  leader: string;
  term: number;
}

export type BatchFrame = Extract<Frame, { type: 'batch' }>;

/** What the node state persists of a follower (node-meta.ts). */
export interface MetaChange {
  installing?: boolean;
  dataTerm?: number;
  history?: readonly TermEntry[];
}

/** A work item as the machine lists it, before it has an id. */
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type WorkSpec = DistributiveOmit<Work, 'id'>;

export type Work =
  | { id: number; kind: 'persist'; change: MetaChange }
  /** Replace the engine with an empty one. */
  | { id: number; kind: 'wipe' }
  /** Apply these batches in order; only the last one asks for fsync when `sync`. */
  | { id: number; kind: 'apply'; batches: BatchFrame[]; sync: boolean }
  /** Put snapshot entries (key, value, key, value, …). */
  | { id: number; kind: 'write-snapshot'; entries: Uint8Array[] }
  /** Move the engine's sequence number to `seq`, durably. */
  | { id: number; kind: 'advance'; seq: number }
  /** Pin an engine snapshot here (replacing any other): anti-entropy reads it. */
  | { id: number; kind: 'checkpoint'; seq: number };

/**
 * The recovery of an interrupted snapshot install, as work: set the mark (durably, in case the
 * install's own mark did not reach the disk), empty the engine, clear the mark. At start-up a
 * node does the same before it opens its engine (open-node.ts).
 */
export function recoveryWork(): WorkSpec[] {
  return [{ kind: 'persist', change: { installing: true, dataTerm: 0 } }, { kind: 'wipe' }, { kind: 'persist', change: { installing: false, dataTerm: 0 } }];
}

export type FollowerEvent =
  | { type: 'tick' }
  /** The stream's response head arrived with 200. */
  | { type: 'connected' }
  /** The leader answered the stream request with an error status. `disconnected` follows. */
  | { type: 'refused'; status: number; term: number | undefined; code: string | undefined; message: string | undefined }
  /** No stream any more (connect failed, stream ended or broke, or closed as asked). */
  | { type: 'disconnected'; error: string | undefined; corrupt: boolean }
  | { type: 'frames'; frames: Frame[] }
  | { type: 'done'; work: number }
  | { type: 'failed'; work: number; error: string }
  /** The leader answered a report; `term` from its X-Term header. */
  | { type: 'report-answered'; status: number; term: number | undefined }
  | { type: 'report-failed'; error: string }
  /** A min_seq read waits until `seq` is applied. */
  | { type: 'wait'; id: number; seq: number; deadlineMs: number }
  /** The metadata changed: the shard's leader or its term. */
  | { type: 'leader'; leader: string; term: number }
  | { type: 'stop' };

export interface ReportBody {
  node: string;
  term: number;
  applied: number;
  checkpoint: number | null;
}

export interface FollowerReady {
  /** Open a stream to `leader` with these parameters. */
  connect: { leader: string; from: number; term: number; dataTerm: number } | undefined;
  /** End the stream now (a `disconnected` follows). */
  disconnect: boolean;
  work: Work[];
  report: { leader: string; body: ReportBody } | undefined;
  settled: { id: number; ok: boolean }[];
  releaseCheckpoint: boolean;
  /** The node's readability for replica reads changed to this. */
  readable: boolean | undefined;
  /** Something said the shard's term moved past what this node knows: fetch the metadata now. */
  refreshMetadata: boolean;
  logs: LogLine[];
}

interface Session {
  leader: string;
  /** The hello's term (the newest a frame carried since), once the hello arrived. */
  term: number | undefined;
  plan: 'stream' | 'snapshot' | undefined;
  /** The snapshot a snapshot plan carries has ended; the log follows. */
  snapshotDone: boolean;
  /** The next sequence number a batch must start at (after the work already listed). */
  next: number;
  snapshot: { seq: number; count: number } | undefined;
}

const RETRY_DELAY_BASE_MS = 25;

export class FollowerMachine {
  private applied: number;
  private installing: boolean;
  private dataTerm: number;
  private history: readonly TermEntry[];
  private leader: string;
  private term: number;
  private connection: 'idle' | 'connecting' | 'open' = 'idle';
  /** A disconnect was asked for and has not happened yet. */
  private dropping = false;
  /** Whether a stream ever opened: before the first, a refused connection is the leader still starting. */
  private everConnected = false;
  private session: Session | undefined;
  private leaderSeqValue = 0;
  private failures = 0;
  private retryAtMs = 0;
  private lastDataMs = 0;
  private pending: Work[] = [];
  private nextWorkId = 1;
  private reportInFlight = false;
  private reportWanted = false;
  private lastReportMs = 0;
  /** How often to report applied runs, as this stream's leader last said (0: after every run). */
  private reportIntervalMs = 0;
  /** Something was applied since the last report went out. */
  private unreported = false;
  /** The last report failed: send one again at the next tick, whatever the interval. */
  private reportRetry = false;
  private checkpoint: { seq: number; expiresMs: number } | undefined;
  private readonly waiters = new Map<number, { seq: number; deadlineMs: number }>();
  private retention: RetentionLog;
  private stopped = false;
  private out: FollowerReady = emptyReady();
  readonly counters = { batchesApplied: 0, snapshotsInstalled: 0, connections: 0 };

  constructor(private readonly options: FollowerMachineOptions, init: FollowerInit) {
    this.applied = init.applied;
    this.installing = false;
    this.dataTerm = init.dataTerm;
    this.history = init.history;
    this.leader = init.leader;
    this.term = init.term;
    this.retention = this.newRetention();
  }

  step(event: FollowerEvent, nowMs: number): void {
    switch (event.type) {
      case 'tick':
        this.tick(nowMs);
        break;
      case 'connected':
        this.everConnected = true;
        this.connection = 'open';
        this.lastDataMs = nowMs;
        this.counters.connections++;
        break;
      case 'refused':
        if (event.term !== undefined && event.term > this.term) this.out.refreshMetadata = true;
        this.lastRefusal = `leader ${this.session?.leader ?? this.leader} refused the stream: ${event.status} ${event.code ?? ''} ${event.message ?? ''}`.trim();
        break;
      case 'disconnected':
        this.disconnected(event.error ?? this.lastRefusal, event.corrupt, nowMs);
        break;
      case 'frames':
        this.lastDataMs = nowMs;
        this.frames(event.frames, nowMs);
        break;
      case 'done':
        this.done(event.work, nowMs);
        break;
      case 'failed':
        this.failed(event.work, event.error);
        break;
      case 'report-answered':
        this.reportInFlight = false;
        if (event.term !== undefined && event.term > this.term) this.out.refreshMetadata = true;
        break;
      case 'report-failed':
        this.reportInFlight = false;
        this.unreported = true;
        this.reportRetry = true;
        if (!this.stopped) this.log('warn', 'position report failed', { leader: this.session?.leader ?? this.leader, error: event.error });
        break;
      case 'wait':
        if (this.readableAt(event.seq)) this.out.settled.push({ id: event.id, ok: true });
        else if (this.stopped || event.deadlineMs <= nowMs) this.out.settled.push({ id: event.id, ok: false });
        else this.waiters.set(event.id, { seq: event.seq, deadlineMs: event.deadlineMs });
        break;
      case 'leader':
        // A new leader, or the same one under a newer term: its stream must start afresh (a hello with the new history).
        if (event.leader !== this.leader || event.term > this.term) {
          this.leader = event.leader;
          this.term = Math.max(this.term, event.term);
          if (this.connection !== 'idle') this.requestDisconnect();
          // The backoff was earned by the old leader; the new one's acks=all writes wait for this node.
          this.failures = 0;
          this.retryAtMs = 0;
        }
        break;
      case 'stop':
        this.stop();
        break;
    }
    this.afterEvent(nowMs);
  }

  hasReady(): boolean {
    const o = this.out;
    return o.connect !== undefined || o.disconnect || o.work.length > 0 || o.report !== undefined || o.settled.length > 0 || o.releaseCheckpoint ||
      o.readable !== undefined || o.refreshMetadata || o.logs.length > 0;
  }

  ready(): FollowerReady {
    return this.out;
  }

  advance(): void {
    this.out = emptyReady();
  }

  /** The engine's last sequence number, as finished work confirmed it. */
  get position(): number {
    return this.applied;
  }

  get leaderSeq(): number {
    return this.leaderSeqValue;
  }

  get isInstalling(): boolean {
    return this.installing;
  }

  get isConnected(): boolean {
    return this.connection === 'open' && this.session !== undefined;
  }

  get pendingWork(): number {
    return this.pending.length;
  }

  get checkpointSeq(): number | undefined {
    return this.checkpoint?.seq;
  }

  /** The batches applied most recently, ending at `position`, if the log is whole; a promoted node serves from it. */
  retained(): RetentionLog | undefined {
    return this.retention.lastSeq === this.applied && !this.installing ? this.retention : undefined;
  }

  status(): Record<string, unknown> {
    return {
      leader: this.isConnected ? this.session!.leader : null,
      connected: this.isConnected,
      applied: this.applied,
      leaderSeq: this.leaderSeqValue,
      lagSeq: Math.max(0, this.leaderSeqValue - this.applied),
      installing: this.installing,
      checkpoint: this.checkpoint?.seq ?? null,
      ...this.counters,
    };
  }

  private lastRefusal: string | undefined;

  private tick(nowMs: number): void {
    if (this.connection === 'open' && nowMs - this.lastDataMs > this.options.heartbeatIntervalMs * 8) {
      this.log('warn', 'no frame from the leader for 8 heartbeat intervals; reconnecting', { leader: this.session?.leader ?? this.leader });
      this.requestDisconnect();
    }
    if (this.checkpoint && nowMs >= this.checkpoint.expiresMs) {
      this.checkpoint = undefined;
      this.out.releaseCheckpoint = true;
    }
    for (const [id, w] of this.waiters) {
      if (nowMs >= w.deadlineMs) {
        this.waiters.delete(id);
        this.out.settled.push({ id, ok: false });
      }
    }
    // A failed report goes again at the next tick in both modes (at most one per tick while the
    // leader refuses them): in "after every run" mode something may wait on it, and with no newer
    // run to apply nothing else would send it before the idle report, 4 heartbeats later.
    if (this.reportRetry || (this.unreported && this.reportIntervalMs > 0 && nowMs - this.lastReportMs >= this.reportIntervalMs)) this.reportWanted = true;
  }

  private disconnected(error: string | undefined, corrupt: boolean, nowMs: number): void {
    if (this.stopped) return;
    if (this.pending.length > 0) throw new Error(`follower machine: disconnected with ${this.pending.length} work items pending`);
    if (this.connection === 'idle' && this.session === undefined) return;
    const interruptedInstall = this.session?.snapshot !== undefined || this.installing;
    this.connection = 'idle';
    this.dropping = false;
    this.session = undefined;
    this.lastRefusal = undefined;
    if (error === undefined) this.failures = 0;
    else {
      this.failures++;
      // Damage is always worth a line; ordinary reconnects are logged on the 1st and every 20th.
      if (!this.stopped && (corrupt || this.failures === 1 || this.failures % 20 === 0)) {
        // Before the first stream, a refusal is most likely the leader still starting: not worth a warning yet.
        const level = corrupt ? 'error' : this.everConnected || this.failures >= 20 ? 'warn' : 'info';
        this.log(level, corrupt ? 'replication stream carried damaged data; reconnecting' : 'replication stream failed; reconnecting', { leader: this.leader, failures: this.failures, error });
      }
      // A leader that stays away may have been replaced while this node was not told.
      if (this.failures % 5 === 0) this.out.refreshMetadata = true;
    }
    this.retryAtMs = nowMs + Math.min(this.options.retryDelayMaxMs, RETRY_DELAY_BASE_MS * 2 ** Math.min(this.failures, 6));
    if (interruptedInstall) this.recover();
  }

  private frames(frames: readonly Frame[], nowMs: number): void {
    let run: BatchFrame[] = [];
    const flush = () => {
      if (run.length > 0) this.queue({ kind: 'apply', batches: run, sync: this.options.followerSync });
      run = [];
    };
    for (const frame of frames) {
      const session = this.session;
      if (!session || this.stopped || this.dropping) break;
      const problem = this.check(session, frame);
      if (problem) {
        flush();
        this.dropStream(problem);
        break;
      }
      // The leader's term only moves forward within a stream (another shard's failover, today).
      if (session.term !== undefined) session.term = Math.max(session.term, frame.term);
      if (frame.type === 'batch') {
        run.push(frame);
        session.next = frame.last + 1;
        this.leaderSeqValue = Math.max(this.leaderSeqValue, frame.last);
        if (run.length >= this.options.batchesPerRunMax) flush();
        continue;
      }
      flush();
      this.control(session, frame, nowMs);
    }
    flush();
  }

  /** Why `frame` cannot be taken in this session, or undefined if it can. */
  private check(session: Session, frame: Frame): string | undefined {
    if (frame.type !== 'hello' && session.term === undefined) return `a ${frame.type} frame before hello`;
    if (frame.term < (session.term ?? 0)) return `a ${frame.type} frame of term ${frame.term}, older than the ${session.term} this stream already carried`;
    if (frame.term < this.term) return `a ${frame.type} frame of term ${frame.term}, older than the shard's term ${this.term}: a deposed leader`;
    if (frame.term > this.term) this.out.refreshMetadata = true;
    switch (frame.type) {
      case 'hello':
        if (session.term !== undefined) return 'a second hello';
        if (frame.plan === 'stream' && frame.from !== session.next) return `hello streams from ${frame.from}, not ${session.next} as asked`;
        return undefined;
      case 'batch':
        if (session.plan === 'snapshot' && !session.snapshotDone) return 'a batch before the snapshot ended';
        return frame.first === session.next ? undefined : `batch ${frame.first}..${frame.last} does not follow ${session.next - 1}`;
      case 'snapshot-begin':
        if (session.plan !== 'snapshot') return 'snapshot-begin in a stream whose hello promised the log';
        return session.snapshot || session.snapshotDone ? 'a second snapshot-begin' : undefined;
      case 'snapshot-chunk':
        return session.snapshot ? undefined : 'a snapshot chunk without snapshot-begin';
      case 'moved':
      case 'fenced':
        return `a migration frame (${frame.type}) on a replication stream`;
      case 'snapshot-end': {
        const s = session.snapshot;
        if (!s || s.seq !== frame.seq || s.count !== frame.count) {
          return `snapshot ended at seq ${frame.seq} with ${frame.count} entries; received ${s?.count ?? 0} for seq ${s?.seq ?? 'none'}`;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** A frame other than a batch, checked already. */
  private control(session: Session, frame: Exclude<Frame, BatchFrame>, nowMs: number): void {
    switch (frame.type) {
      case 'hello':
        return this.hello(session, frame);
      case 'heartbeat':
        this.leaderSeqValue = frame.leaderSeq;
        if (nowMs - this.lastReportMs > this.options.heartbeatIntervalMs * 4) this.reportWanted = true;
        if (frame.reportIntervalMs !== undefined) {
          // Back to reporting every run: something at the leader waits on this position now.
          if (frame.reportIntervalMs === 0 && this.reportIntervalMs !== 0) this.reportWanted = true;
          this.reportIntervalMs = frame.reportIntervalMs;
        }
        return;
      case 'snapshot-begin':
        session.snapshot = { seq: frame.seq, count: 0 };
        this.beginInstall();
        return;
      case 'snapshot-chunk':
        session.snapshot!.count += frame.entries.length / 2;
        this.queue({ kind: 'write-snapshot', entries: frame.entries });
        return;
      case 'snapshot-end':
        session.snapshot = undefined;
        session.snapshotDone = true;
        session.next = frame.seq + 1;
        this.queue({ kind: 'advance', seq: frame.seq });
        this.queue({ kind: 'persist', change: { installing: false, dataTerm: frame.term } });
        return;
      case 'checkpoint':
        if (session.next - 1 === frame.seq && !this.installing) this.queue({ kind: 'checkpoint', seq: frame.seq });
        else this.reportWanted = true;
        return;
    }
  }

  private hello(session: Session, frame: Extract<Frame, { type: 'hello' }>): void {
    session.term = frame.term;
    session.plan = frame.plan;
    this.leaderSeqValue = frame.leaderSeq;
    const change: MetaChange = {};
    if (newerHistory(this.history, frame.history) !== this.history) change.history = frame.history;
    // The leader checked this node's data is a prefix of its log; from here on it is this term's.
    if (frame.plan === 'stream' && frame.term > this.dataTerm) change.dataTerm = frame.term;
    if (Object.keys(change).length > 0) this.queue({ kind: 'persist', change });
    if (frame.plan === 'stream') this.reportWanted = true;
  }

  private beginInstall(): void {
    this.setInstalling(true);
    this.queue({ kind: 'persist', change: { installing: true, dataTerm: 0 } });
    this.queue({ kind: 'wipe' });
  }

  /** Empties the engine and clears the install mark: what an interrupted install leaves is partial. */
  private recover(): void {
    this.log('warn', 'an interrupted snapshot install left partial data; emptying the engine', {});
    this.setInstalling(true);
    for (const work of recoveryWork()) this.queue(work);
  }

  private setInstalling(installing: boolean): void {
    if (this.installing === installing) return;
    this.installing = installing;
    this.out.readable = !installing;
    if (installing && this.checkpoint) {
      this.checkpoint = undefined;
      this.out.releaseCheckpoint = true;
    }
  }

  private done(id: number, nowMs: number): void {
    if (this.stopped) return;
    const work = this.pending.shift();
    if (!work || work.id !== id) throw new Error(`follower machine: done(${id}) but the oldest work is ${work?.id ?? 'none'}`);
    switch (work.kind) {
      case 'persist':
        if (work.change.dataTerm !== undefined) this.dataTerm = work.change.dataTerm;
        if (work.change.history !== undefined) this.history = work.change.history;
        if (work.change.installing === false && this.installing) this.installed(nowMs);
        return;
      case 'wipe':
        this.applied = 0;
        this.retention = this.newRetention();
        return;
      case 'apply':
        return this.appliedRun(work.batches, nowMs);
      case 'write-snapshot':
        return;
      case 'advance':
        this.applied = Math.max(this.applied, work.seq);
        return;
      case 'checkpoint':
        this.checkpoint = { seq: work.seq, expiresMs: nowMs + this.options.checkpointKeepMs };
        this.reportWanted = true;
        return;
    }
  }

  private installed(nowMs: number): void {
    this.setInstalling(false);
    this.retention = this.newRetention();
    if (this.applied > 0) {
      this.counters.snapshotsInstalled++;
      this.log('info', 'snapshot installed', { seq: this.applied });
    }
    this.settleWaiters(nowMs);
    this.reportWanted = true;
  }

  private appliedRun(batches: readonly BatchFrame[], nowMs: number): void {
    for (const b of batches) {
      if (b.first === this.retention.lastSeq + 1) this.retention.append(b.first, b.last, b.batch, nowMs);
      else if (b.last > this.retention.lastSeq) this.retention = new RetentionLog(b.last, this.options.retentionBytesMax, this.options.retentionBatchesMax);
    }
    this.applied = Math.max(this.applied, batches.at(-1)!.last);
    this.counters.batchesApplied += batches.length;
    this.settleWaiters(nowMs);
    this.unreported = true;
    if (this.reportIntervalMs === 0 || nowMs - this.lastReportMs >= this.reportIntervalMs) this.reportWanted = true;
  }

  private failed(id: number, error: string): void {
    if (this.stopped) return;
    const work = this.pending[0];
    if (!work || work.id !== id) throw new Error(`follower machine: failed(${id}) but the oldest work is ${work?.id ?? 'none'}`);
    // The shell abandons the rest of the list; the stream is dropped and the position re-read on reconnect.
    this.pending = [];
    this.dropStream(`${work.kind} failed: ${error}`);
  }

  private dropStream(reason: string): void {
    this.log('warn', 'dropping the replication stream', { leader: this.session?.leader ?? this.leader, reason });
    this.requestDisconnect();
  }

  /** Asks the shell to end the stream; nothing more is reported or applied from it meanwhile. */
  private requestDisconnect(): void {
    this.dropping = true;
    this.out.disconnect = true;
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // Work under way is abandoned: the engine's own last sequence number is the position at the next start.
    this.pending = [];
    if (this.connection !== 'idle') this.requestDisconnect();
    for (const id of this.waiters.keys()) this.out.settled.push({ id, ok: false });
    this.waiters.clear();
    if (this.checkpoint) {
      this.checkpoint = undefined;
      this.out.releaseCheckpoint = true;
    }
  }

  private afterEvent(nowMs: number): void {
    if (this.stopped || this.pending.length > 0) return;
    if (this.reportWanted && !this.reportInFlight && this.isConnected && !this.dropping && !this.installing && this.session!.term !== undefined) {
      this.reportWanted = false;
      this.unreported = false;
      this.reportRetry = false;
      this.reportInFlight = true;
      this.lastReportMs = nowMs;
      this.out.report = { leader: this.session!.leader, body: { node: this.options.address, term: this.term, applied: this.applied, checkpoint: this.checkpoint?.seq ?? null } };
    }
    if (this.connection === 'idle' && this.leader !== this.options.address && nowMs >= this.retryAtMs && !this.dropping) {
      this.connection = 'connecting';
      this.reportIntervalMs = 0;
      this.session = { leader: this.leader, term: undefined, plan: undefined, next: this.applied + 1, snapshot: undefined, snapshotDone: false };
      this.out.connect = { leader: this.leader, from: this.applied + 1, term: this.term, dataTerm: this.dataTerm };
    }
  }

  private settleWaiters(nowMs: number): void {
    for (const [id, w] of this.waiters) {
      if (this.readableAt(w.seq)) {
        this.waiters.delete(id);
        this.out.settled.push({ id, ok: true });
      } else if (nowMs >= w.deadlineMs) {
        this.waiters.delete(id);
        this.out.settled.push({ id, ok: false });
      }
    }
  }

  private readableAt(seq: number): boolean {
    return !this.installing && this.applied >= seq;
  }

  private queue(work: WorkSpec): void {
    const item = { ...work, id: this.nextWorkId++ } as Work;
    this.pending.push(item);
    this.out.work.push(item);
  }

  private newRetention(): RetentionLog {
    return new RetentionLog(this.applied, this.options.retentionBytesMax, this.options.retentionBatchesMax);
  }

  private log(level: LogLine['level'], message: string, fields: Record<string, unknown>): void {
    this.out.logs.push({ level, message, fields });
  }
}

function emptyReady(): FollowerReady {
  return { connect: undefined, disconnect: false, work: [], report: undefined, settled: [], releaseCheckpoint: false, readable: undefined, refreshMetadata: false, logs: [] };
}
