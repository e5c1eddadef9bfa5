/**
 * The leader's half of replication as a pure state machine, in the shape of etcd raft's
 * RawNode: events go in through `step(event, nowMs)`, and what the shell must do comes out of
 * `ready()` (frames to write to which stream, streams to end, engine snapshots to take, acks=all
 * writes to settle, peers to learn a newer epoch from, log lines), after which the shell calls
 * `advance()`. No timers, sockets, engine or clock inside: the shell (leader.ts) passes the
 * time with every event and owns the sockets and the engine.
 *
 * It owns: the retention log (committed batches kept for followers to resume from), each
 * stream's session (its follower, its plan, its cursor into the log, a pending checkpoint, its
 * snapshot pin, whether its socket is full), the follower tracker (positions, lag, in-sync set)
 * and the acks=all waiters with their deadlines.
 *
 * A stream's life: `open` plans it (planCatchUp: stream the log from the follower's position,
 * or send a snapshot, or refuse a deposed leader) and queues the hello frame. A snapshot plan
 * asks the shell for an engine snapshot (`snapshots`); `snapshot-taken` pins the retention log
 * after it and queues snapshot-begin; the shell writes the chunks itself (they are data, not
 * protocol state) and reports `snapshot-sent`, which queues snapshot-end. From then on the
 * stream carries every retained batch from its cursor, a checkpoint frame when anti-entropy
 * asked for one at exactly that point, and a heartbeat when idle. A stream whose next batch
 * left the retention window is ended; the follower reconnects and gets a snapshot.
 *
 * Invariants (checked by assertions in the tests' scripts, relied on by the shell):
 * - the retention log ends at the engine's last sequence number (every commit is stepped);
 * - a stream's frames come out in order, at most `queuedBytesMax` of them per Ready while its
 *   socket is not full, none once it is `blocked` until `drained`;
 * - an acks=all waiter is settled exactly once: acknowledged when every in-sync follower
 *   applied its write (with at least `minInsync` in sync), refused otherwise, and every one
 *   still waiting is refused NOT_LEADER by `stop`.
 */
import type { Frame } from '../../protocol/frame-format.ts';
import type { ClusterErrorCode } from '../../protocol/errors.ts';
import type { EpochEntry } from './epoch-history.ts';
import { planCatchUp } from './epoch-history.ts';
import { FollowerTracker, type FollowerStatus } from './follower-tracker.ts';
import { RetentionLog } from './retention-log.ts';
import type { LogLine, Refusal } from './machine-types.ts';

export interface LeaderMachineOptions {
  address: string;
  minInsync: number;
  replicaLagMaxMs: number;
  ackTimeoutMs: number;
  heartbeatIntervalMs: number;
  retentionBytesMax: number;
  retentionBatchesMax: number;
  /** acks=all writes that may wait at once. */
  waitersMax: number;
  /** Bytes of frames queued for one stream per Ready. */
  queuedBytesMax: number;
}

export type LeaderEvent =
  /** The engine committed a write group (its commit listener). */
  | { type: 'commit'; first: number; last: number; batch: Uint8Array }
  /** A follower asks for a stream. The answer to a refused one is `step`'s return value. */
  | { type: 'open'; stream: number; node: string; from: number; epoch: number; dataEpoch: number }
  /** The shell took the engine snapshot a snapshot plan asked for. */
  | { type: 'snapshot-taken'; stream: number; seq: number }
  /** The shell wrote every chunk of that snapshot, `count` entries. */
  | { type: 'snapshot-sent'; stream: number; seq: number; count: number }
  /** A stream's socket buffer is full / has drained. */
  | { type: 'blocked'; stream: number }
  | { type: 'drained'; stream: number }
  /** A stream's connection closed. */
  | { type: 'closed'; stream: number }
  /** A follower's position report. */
  | { type: 'report'; node: string; epoch: number; applied: number; checkpoint: number | undefined }
  /** An acks=all write at `seq` waits for its followers; `id` names it in `settled`. */
  | { type: 'wait'; id: number; seq: number }
  /** Anti-entropy wants every open stream to carry a checkpoint right after `seq`. */
  | { type: 'checkpoints'; seq: number }
  /** The node's epoch moved (another shard failed over) or its history changed. */
  | { type: 'epoch'; epoch: number; history: readonly EpochEntry[] }
  | { type: 'tick' }
  /** The node no longer leads: end every stream, refuse every waiter. */
  | { type: 'stop' };

export interface Settled {
  id: number;
  /** Absent: acknowledged. */
  refusal?: Refusal;
}

export interface LeaderReady {
  frames: { stream: number; frame: Frame }[];
  /** Streams that need an engine snapshot taken now (then `snapshot-taken`). */
  snapshots: { stream: number; node: string }[];
  /** Streams to end. */
  closes: number[];
  settled: Settled[];
  /** Peers that know a newer epoch than this leader: fetch their topology. */
  learnFrom: string[];
  logs: LogLine[];
}

type Phase = 'snapshot-wait' | 'snapshot' | 'log';

interface Session {
  node: string;
  phase: Phase;
  /** The next sequence number to send (log phase). */
  cursor: number;
  checkpointSeq: number | undefined;
  blocked: boolean;
  lastSentMs: number;
  releasePin: (() => void) | undefined;
}

interface Waiter {
  id: number;
  seq: number;
  deadlineMs: number;
}

export class LeaderMachine {
  readonly retention: RetentionLog;
  readonly tracker: FollowerTracker;
  private readonly sessions = new Map<number, Session>();
  private waiters: Waiter[] = [];
  private epoch: number;
  private history: readonly EpochEntry[];
  private stopped = false;
  private out: LeaderReady = emptyReady();

  /**
   * `lastSeq`: the engine's last sequence number now. `inherited`: the retention log this node
   * kept as a follower, used when it ends exactly there (a promoted follower's followers resume).
   */
  constructor(private readonly options: LeaderMachineOptions, init: { lastSeq: number; epoch: number; history: readonly EpochEntry[]; inherited?: RetentionLog }) {
    this.retention = init.inherited?.lastSeq === init.lastSeq ? init.inherited : new RetentionLog(init.lastSeq, options.retentionBytesMax, options.retentionBatchesMax);
    this.tracker = new FollowerTracker(options.replicaLagMaxMs, options.minInsync);
    this.epoch = init.epoch;
    this.history = init.history;
  }

  /** Feeds one event; returns a refusal for an `open`, `report` or `wait` that is turned down. */
  step(event: LeaderEvent, nowMs: number): Refusal | undefined {
    switch (event.type) {
      case 'commit':
        this.retention.append(event.first, event.last, event.batch, nowMs);
        this.pumpAll(nowMs);
        return undefined;
      case 'open':
        return this.open(event, nowMs);
      case 'snapshot-taken':
        return this.snapshotTaken(event.stream, event.seq, nowMs);
      case 'snapshot-sent':
        return this.snapshotSent(event.stream, event.seq, event.count, nowMs);
      case 'blocked':
        this.withSession(event.stream, (s) => (s.blocked = true));
        return undefined;
      case 'drained':
        this.withSession(event.stream, (s) => (s.blocked = false));
        this.pump(event.stream, nowMs);
        return undefined;
      case 'closed':
        this.closed(event.stream, nowMs);
        return undefined;
      case 'report':
        return this.report(event, nowMs);
      case 'wait':
        return this.wait(event.id, event.seq, nowMs);
      case 'checkpoints':
        for (const [id, s] of this.sessions) {
          s.checkpointSeq = event.seq;
          this.pump(id, nowMs);
        }
        return undefined;
      case 'epoch':
        this.epoch = event.epoch;
        this.history = event.history;
        return undefined;
      case 'tick':
        this.tick(nowMs);
        return undefined;
      case 'stop':
        this.stop();
        return undefined;
    }
  }

  hasReady(): boolean {
    const o = this.out;
    return o.frames.length + o.snapshots.length + o.closes.length + o.settled.length + o.learnFrom.length + o.logs.length > 0;
  }

  ready(): LeaderReady {
    return this.out;
  }

  advance(): void {
    this.out = emptyReady();
  }

  /** Whether an acks=all write may be taken now (enough followers in sync); NOT_ENOUGH_REPLICAS otherwise. */
  checkAllAcks(nowMs: number): Refusal | undefined {
    if (this.tracker.canTakeAllAcks(nowMs, this.retention)) return undefined;
    const inSync = this.tracker.inSync(nowMs, this.retention).length;
    return refusal('NOT_ENOUGH_REPLICAS', `acks=all needs ${this.options.minInsync} in-sync followers (min_insync); ${inSync} are in sync; nothing was written`);
  }

  /** The followers with an open stream right now. */
  openStreams(): { stream: number; node: string }[] {
    return [...this.sessions].map(([stream, s]) => ({ stream, node: s.node }));
  }

  followers(nowMs: number): FollowerStatus[] {
    return this.tracker.status(nowMs, this.retention);
  }

  get waitingWrites(): number {
    return this.waiters.length;
  }

  /** The epoch frames carry now. */
  get currentEpoch(): number {
    return this.epoch;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private open(e: Extract<LeaderEvent, { type: 'open' }>, nowMs: number): Refusal | undefined {
    if (this.stopped) return refusal('NOT_LEADER', `${this.options.address} is no longer the leader`);
    const plan = planCatchUp({
      from: e.from, followerDataEpoch: e.dataEpoch, followerEpoch: e.epoch, leaderEpoch: this.epoch,
      history: this.history, leaderSeq: this.retention.lastSeq, retainedFrom: this.retention.servableFrom,
    });
    if (plan.kind === 'refuse') {
      this.out.learnFrom.push(e.node);
      return refusal('STALE_EPOCH', `follower ${e.node} knows epoch ${e.epoch}, newer than this leader's ${this.epoch}`);
    }
    const snapshot = plan.kind === 'snapshot';
    if (snapshot) this.log('info', 'follower needs a snapshot', { follower: e.node, from: e.from, reason: plan.reason });
    this.sessions.set(e.stream, { node: e.node, phase: snapshot ? 'snapshot-wait' : 'log', cursor: snapshot ? 0 : e.from, checkpointSeq: undefined, blocked: false, lastSentMs: nowMs, releasePin: undefined });
    this.tracker.connect(e.node, e.stream, snapshot ? 0 : e.from - 1, nowMs);
    this.send(e.stream, { type: 'hello', epoch: this.epoch, leader: this.options.address, plan: plan.kind, from: snapshot ? 0 : e.from, leaderSeq: this.retention.lastSeq, history: [...this.history] }, nowMs);
    this.log('debug', 'replication stream opened', { follower: e.node, from: e.from, plan: plan.kind });
    if (snapshot) this.out.snapshots.push({ stream: e.stream, node: e.node });
    else this.pump(e.stream, nowMs);
    this.settle(nowMs);
    return undefined;
  }

  private snapshotTaken(stream: number, seq: number, nowMs: number): Refusal | undefined {
    const s = this.sessions.get(stream);
    if (!s) return undefined;
    if (s.phase !== 'snapshot-wait') throw new Error(`leader machine: snapshot-taken for stream ${stream} in phase ${s.phase}`);
    s.phase = 'snapshot';
    s.releasePin = this.retention.pin(seq + 1);
    this.send(stream, { type: 'snapshot-begin', epoch: this.epoch, seq }, nowMs);
    return undefined;
  }

  private snapshotSent(stream: number, seq: number, count: number, nowMs: number): Refusal | undefined {
    const s = this.sessions.get(stream);
    if (!s) return undefined;
    if (s.phase !== 'snapshot') throw new Error(`leader machine: snapshot-sent for stream ${stream} in phase ${s.phase}`);
    this.send(stream, { type: 'snapshot-end', epoch: this.epoch, seq, count }, nowMs);
    this.log('info', 'snapshot sent', { follower: s.node, seq, entries: count });
    s.phase = 'log';
    s.cursor = seq + 1;
    this.pump(stream, nowMs);
    return undefined;
  }

  private closed(stream: number, nowMs: number): void {
    const s = this.sessions.get(stream);
    if (!s) return;
    this.sessions.delete(stream);
    s.releasePin?.();
    this.tracker.disconnect(s.node, stream);
    this.log('debug', 'replication stream closed', { follower: s.node });
    this.settle(nowMs);
  }

  private report(e: Extract<LeaderEvent, { type: 'report' }>, nowMs: number): Refusal | undefined {
    if (e.epoch > this.epoch) this.out.learnFrom.push(e.node);
    if (e.epoch !== this.epoch) return refusal('STALE_EPOCH', `report from ${e.node} at epoch ${e.epoch}; this leader is at epoch ${this.epoch}`);
    // A follower cannot have applied more than this leader has written.
    const applied = Math.min(e.applied, this.retention.lastSeq);
    if (!this.tracker.report(e.node, applied, nowMs, e.checkpoint)) {
      return refusal('BAD_REQUEST', `no replication stream is open for ${e.node}; open one first`);
    }
    this.settle(nowMs);
    return undefined;
  }

  private wait(id: number, seq: number, nowMs: number): Refusal | undefined {
    if (this.stopped) return notLeader(seq);
    if (this.waiters.length >= this.options.waitersMax) return refusal('OVERLOADED', `${this.options.waitersMax} writes already wait for follower acks`);
    this.waiters.push({ id, seq, deadlineMs: nowMs + this.options.ackTimeoutMs });
    this.settle(nowMs);
    return undefined;
  }

  private tick(nowMs: number): void {
    for (const [id, s] of this.sessions) {
      this.pump(id, nowMs);
      if (s.phase === 'log' && !s.blocked && nowMs - s.lastSentMs >= this.options.heartbeatIntervalMs) {
        this.send(id, { type: 'heartbeat', epoch: this.epoch, leaderSeq: this.retention.lastSeq }, nowMs);
      }
    }
    this.settle(nowMs);
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const [id, s] of this.sessions) {
      s.releasePin?.();
      this.out.closes.push(id);
    }
    this.sessions.clear();
    for (const w of this.waiters) this.out.settled.push({ id: w.id, refusal: notLeader(w.seq) });
    this.waiters = [];
  }

  private pumpAll(nowMs: number): void {
    for (const id of this.sessions.keys()) this.pump(id, nowMs);
  }

  /** Queues what a log-phase stream has to send, up to the per-Ready byte budget. */
  private pump(stream: number, nowMs: number): void {
    const s = this.sessions.get(stream);
    if (!s || s.phase !== 'log' || s.blocked) return;
    let bytes = 0;
    for (;;) {
      if (s.checkpointSeq !== undefined && s.cursor - 1 >= s.checkpointSeq) {
        if (s.cursor - 1 === s.checkpointSeq) this.send(stream, { type: 'checkpoint', epoch: this.epoch, seq: s.checkpointSeq }, nowMs);
        s.checkpointSeq = undefined;
      }
      if (s.cursor > this.retention.lastSeq || bytes >= this.options.queuedBytesMax) break;
      const entry = this.retention.entryFor(s.cursor);
      if (!entry) {
        this.log('warn', 'follower fell out of the retention window; ending its stream', { follower: s.node, next: s.cursor, retainedFrom: this.retention.servableFrom });
        this.end(stream, nowMs);
        return;
      }
      this.send(stream, { type: 'batch', epoch: this.epoch, first: entry.first, last: entry.last, batch: entry.batch }, nowMs);
      bytes += entry.batch.length;
      s.cursor = entry.last + 1;
    }
    // Caught up: the snapshot's pin has done its job.
    if (s.cursor > this.retention.lastSeq && s.releasePin) {
      s.releasePin();
      s.releasePin = undefined;
    }
  }

  private end(stream: number, nowMs: number): void {
    this.out.closes.push(stream);
    this.closed(stream, nowMs);
  }

  /** Settles every waiter the ack rule (follower-tracker.ts) now decides. */
  private settle(nowMs: number): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      const decision = this.tracker.decide(w.seq, nowMs, this.retention);
      if (decision === 'ack') this.out.settled.push({ id: w.id });
      else if (decision === 'not-enough-replicas') {
        this.out.settled.push({ id: w.id, refusal: refusal('UNCONFIRMED', `the write at seq ${w.seq} is in the leader's log, but fewer than ${this.options.minInsync} followers stayed in sync to confirm it; not acknowledged`) });
      } else if (nowMs >= w.deadlineMs) {
        this.out.settled.push({ id: w.id, refusal: refusal('UNCONFIRMED', `the write at seq ${w.seq} is in the leader's log, but the in-sync followers did not confirm it within ${this.options.ackTimeoutMs} ms; not acknowledged`) });
      } else still.push(w);
    }
    this.waiters = still;
  }

  private send(stream: number, frame: Frame, nowMs: number): void {
    this.out.frames.push({ stream, frame });
    const s = this.sessions.get(stream);
    if (s) s.lastSentMs = nowMs;
  }

  private withSession(stream: number, change: (s: Session) => void): void {
    const s = this.sessions.get(stream);
    if (s) change(s);
  }

  private log(level: LogLine['level'], message: string, fields: Record<string, unknown>): void {
    this.out.logs.push({ level, message, fields });
  }
}

function emptyReady(): LeaderReady {
  return { frames: [], snapshots: [], closes: [], settled: [], learnFrom: [], logs: [] };
}

function refusal(code: ClusterErrorCode, message: string): Refusal {
  return { code, message };
}

function notLeader(seq: number): Refusal {
  return refusal('NOT_LEADER', `the write at seq ${seq} is in this node's log, but the node lost its leadership before it was confirmed; not acknowledged`);
}
