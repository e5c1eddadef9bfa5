/**
 * The leader's half of replication as a pure state machine, in the shape of etcd raft's
 * RawNode: events go in through `step(event, nowMs)`, and what the shell must do comes out of
 * `ready()` (frames to write to which stream, streams to end, engine snapshots to take, waiting
 * writes and reads to settle, an in-sync set to propose to the control plane, log lines), after
 * which the shell calls `advance()`. No timers, sockets, engine or clock inside: the shell
 * (leader.ts) passes the time with every event and owns the sockets and the engine.
 *
 * One machine serves one leadership: a shard, at one term (the control plane's). It owns the
 * retention log (committed batches kept for followers to resume from), each stream's session
 * (its follower, its plan, its cursor into the log, a pending checkpoint, its snapshot pin,
 * whether its socket is full), the followers' positions (follower-tracker.ts), the committed
 * in-sync set and the change to it in flight, the lease, and the waiting writes and reads.
 *
 * A stream's life: `open` plans it (planCatchUp: stream the log from the follower's position,
 * or send a snapshot, or refuse a follower that knows a newer term) and queues the hello. A
 * snapshot plan asks the shell for an engine snapshot; `snapshot-taken` pins the retention log
 * after it and queues snapshot-begin; the shell writes the chunks itself (they are data, not
 * protocol state) and reports `snapshot-sent`, which queues snapshot-end. From then on the
 * stream carries every retained batch from its cursor, a checkpoint frame when anti-entropy
 * asked for one at exactly that point, and a heartbeat when idle. A stream whose next batch
 * left the retention window is ended; the follower reconnects and gets a snapshot.
 *
 * The in-sync set (docs/failover.md): acks=all means "applied by every member of the committed
 * in-sync set". The leader drops a member that stops keeping up only by proposing the smaller
 * set and waiting for it to commit; until then, writes wait for that member too. A member that
 * has caught up is proposed back; while that proposal is in flight, writes wait for it as well
 * (a superset is always safe). So a member of the committed set has applied every write the
 * leader acknowledged, and the control plane may elect any of them.
 *
 * The lease: the leader takes writes only while it holds a lease the control plane granted
 * (`lease` events carry its end, measured on this node's clock from when it was asked for). The
 * control plane elects no other leader before it has certainly ended. Leader reads are
 * linearizable: they need the lease, and wait until every member of the in-sync set has applied
 * what the read saw, so a read never returns a write that a failover could lose.
 *
 * Position reports (docs/replication.md, "Position reports"): a follower reports after every
 * applied run while its position decides something here: a write or read waits on the in-sync
 * set (or did within REPORT_EAGER_HOLD_MS), the in-sync set is changing or lacks a member that
 * could be taken back, the leader is handing over, or a migration stream is giving keys away
 * (`giving`). Otherwise it reports at most every
 * `reportIntervalMs` (the heartbeat interval, at most a tenth of replicaLagMaxMs), which is all
 * the lag check needs; under acks=1 writes that saves both nodes an HTTP exchange per applied
 * run. The leader says which with a heartbeat frame carrying `reportIntervalMs`, on the
 * event that makes reports matter (a `wait`, a `read`, a fence, a proposal, `giving`) and on the tick
 * that finds they no longer do.
 *
 * Invariants (relied on by the shell, shown by test/replication/testdata/leader.txt):
 * - the retention log ends at the engine's last sequence number (every commit is stepped);
 * - a stream's frames come out in order, at most `queuedBytesMax` of them per Ready while its
 *   socket is not full, none once it is `blocked` until `drained`;
 * - every waiter is settled exactly once, and `stop` refuses every one still waiting;
 * - one in-sync proposal at a time.
 */
import { strict as assert } from 'node:assert';
import type { ClusterErrorCode } from '../../protocol/errors.ts';
import type { Frame } from '../../protocol/frame-format.ts';
import { REPORT_INTERVAL_MS_MAX } from '../../protocol/limits.ts';
import { FollowerTracker, type FollowerStatus } from './follower-tracker.ts';
import type { LogLine, Refusal } from './machine-types.ts';
import { RetentionLog } from './retention-log.ts';
import { IN_SYNC_GRACE_MS_MAX, REPORT_EAGER_HOLD_MS, REPORT_INTERVAL_LAG_SHARE, REPORT_INTERVAL_MS_MIN } from '../limits.ts';
import { planCatchUp, type TermEntry } from './term-history.ts';

export interface LeaderMachineOptions {
  address: string;
  minInsync: number;
  replicaLagMaxMs: number;
  ackTimeoutMs: number;
  heartbeatIntervalMs: number;
  retentionBytesMax: number;
  retentionBatchesMax: number;
  /** Writes and reads that may wait at once. */
  waitersMax: number;
  /** Bytes of frames queued for one stream per Ready. */
  queuedBytesMax: number;
}

export interface LeaderInit {
  /** When the leadership starts. */
  nowMs: number;
  /** The engine's last sequence number now. */
  lastSeq: number;
  term: number;
  history: readonly TermEntry[];
  /** The shard's other members, and those of them in the committed in-sync set. */
  followers: readonly string[];
  inSync: readonly string[];
  /** The retention log this node kept as a follower; used if it ends at `lastSeq`. */
  inherited?: RetentionLog;
}

export type LeaderEvent =
  /** The engine committed a write group (its commit listener). */
  | { type: 'commit'; first: number; last: number; batch: Uint8Array }
  /** A follower asks for a stream. The answer to a refused one is `step`'s return value. */
  | { type: 'open'; stream: number; node: string; from: number; term: number; dataTerm: number }
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
  | { type: 'report'; node: string; term: number; applied: number; checkpoint: number | undefined }
  /** An acks=all write at `seq` waits for the in-sync set; `id` names it in `settled`. */
  | { type: 'wait'; id: number; seq: number }
  /** A leader read saw the engine at `seq`; it waits until the in-sync set has applied that. */
  | { type: 'read'; id: number; seq: number }
  /** Anti-entropy wants every open stream to carry a checkpoint right after `seq`. */
  | { type: 'checkpoints'; seq: number }
  /** The committed metadata of this term: the shard's other members and the in-sync ones. */
  | { type: 'members'; followers: readonly string[]; inSync: readonly string[] }
  /** The in-sync proposal this machine asked for failed (it may be asked again). */
  | { type: 'in-sync-failed'; reason: string }
  /** The control plane granted a lease, valid until `untilMs` on this node's clock. */
  | { type: 'lease'; untilMs: number }
  /** A handover: take no writes and serve no leader reads (on), or again (off: it failed). */
  | { type: 'fence'; on: boolean }
  /** A migration stream giving keys away opened (on) or closed (off); cluster/migration/giver.ts. */
  | { type: 'giving'; on: boolean }
  | { type: 'tick' }
  /** The node no longer leads: end every stream, refuse every waiter. */
  | { type: 'stop' };

export interface Settled {
  id: number;
  /** Absent: acknowledged (a write) or safe to answer (a read). */
  refusal?: Refusal;
}

export interface LeaderReady {
  frames: { stream: number; frame: Frame }[];
  /** Streams that need an engine snapshot taken now (then `snapshot-taken`). */
  snapshots: { stream: number; node: string }[];
  /** Streams to end. */
  closes: number[];
  settled: Settled[];
  /** Propose this in-sync set (followers only; the leader goes first) for this term. */
  proposeInSync: string[] | undefined;
  /** A follower knows a newer term than this leader: fetch the metadata now. */
  refreshMetadata: boolean;
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
  /** How often the follower was last told to report (0: after every run); a new stream starts at 0. */
  reportIntervalMs: number;
  releasePin: (() => void) | undefined;
}

interface Waiter {
  id: number;
  seq: number;
  deadlineMs: number;
  kind: 'write' | 'read';
}

export class LeaderMachine {
  readonly retention: RetentionLog;
  private readonly tracker: FollowerTracker;
  private readonly sessions = new Map<number, Session>();
  private waiters: Waiter[] = [];
  private readonly term: number;
  private readonly history: readonly TermEntry[];
  private followerSet: ReadonlySet<string>;
  private inSync: ReadonlySet<string>;
  /** The in-sync set proposed and not yet committed, and the members it adds. */
  private proposal: { inSync: ReadonlySet<string>; adds: ReadonlySet<string> } | undefined;
  private leaseUntilMs = 0;
  /** Handing leadership over: no writes, no leader reads. */
  private fenced = false;
  /** Migration streams open from this leader (cluster/migration/giver.ts). */
  private givingStreams = 0;
  private stopped = false;
  private out: LeaderReady = emptyReady();
  /** How often followers report while nothing here needs their positions; 0 when that would be too coarse for the lag check. */
  private readonly lazyReportIntervalMs: number;
  /** When a write or read last waited on the in-sync set (the leadership's start counts). */
  private lastWaitMs: number;

  constructor(private readonly options: LeaderMachineOptions, init: LeaderInit) {
    const lazy = Math.min(options.heartbeatIntervalMs, Math.floor(options.replicaLagMaxMs / REPORT_INTERVAL_LAG_SHARE));
    this.lazyReportIntervalMs = lazy >= REPORT_INTERVAL_MS_MIN ? lazy : 0;
    assert(this.lazyReportIntervalMs <= REPORT_INTERVAL_MS_MAX, `leader-machine: a report interval of ${lazy} ms is over the frame's limit`);
    this.lastWaitMs = init.nowMs;
    this.retention = init.inherited?.lastSeq === init.lastSeq ? init.inherited : new RetentionLog(init.lastSeq, options.retentionBytesMax, options.retentionBatchesMax);
    this.tracker = new FollowerTracker(options.replicaLagMaxMs, Math.min(options.replicaLagMaxMs, IN_SYNC_GRACE_MS_MAX), init.nowMs);
    this.term = init.term;
    this.history = init.history;
    this.followerSet = new Set(init.followers);
    this.inSync = new Set(init.inSync);
  }

  /** Feeds one event; returns a refusal for an `open`, `report`, `wait` or `read` that is turned down. */
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
        // The interval first: a follower told "after every run" behind its backlog would apply a
        // waiting write and still report it only at its relaxed interval.
        this.tellReportInterval(nowMs);
        this.pump(event.stream, nowMs);
        return undefined;
      case 'closed':
        this.closed(event.stream, nowMs);
        return undefined;
      case 'report':
        return this.report(event, nowMs);
      case 'wait':
        return this.wait(event.id, event.seq, 'write', nowMs);
      case 'read':
        if (this.fenced) return this.fencedRefusal();
        if (!this.leaseValid(nowMs)) return this.leaseRefusal();
        return this.wait(event.id, event.seq, 'read', nowMs);
      case 'checkpoints':
        for (const [id, s] of this.sessions) {
          s.checkpointSeq = event.seq;
          this.pump(id, nowMs);
        }
        return undefined;
      case 'members':
        this.members(event.followers, event.inSync, nowMs);
        return undefined;
      case 'in-sync-failed':
        if (this.proposal) this.log('warn', 'an in-sync change was not committed; will propose again', { reason: event.reason });
        this.proposal = undefined;
        this.settle(nowMs);
        this.tellReportInterval(nowMs);
        return undefined;
      case 'lease':
        this.leaseUntilMs = Math.max(this.leaseUntilMs, event.untilMs);
        return undefined;
      case 'fence':
        this.fenced = event.on;
        this.settle(nowMs);
        this.tellReportInterval(nowMs);
        return undefined;
      case 'giving':
        this.givingStreams += event.on ? 1 : -1;
        assert(this.givingStreams >= 0, `leader-machine: more migration streams closed than opened (${this.givingStreams})`);
        this.tellReportInterval(nowMs);
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
    return o.frames.length + o.snapshots.length + o.closes.length + o.settled.length + o.logs.length > 0 || o.proposeInSync !== undefined || o.refreshMetadata;
  }

  ready(): LeaderReady {
    return this.out;
  }

  advance(): void {
    this.out = emptyReady();
  }

  /** Whether a write may be taken now: the lease holds, and for acks=all enough members are in sync. */
  checkWrite(acksAll: boolean, nowMs: number): Refusal | undefined {
    if (this.stopped) return refusal('NOT_LEADER', `${this.options.address} no longer leads at term ${this.term}`);
    if (this.fenced) return this.fencedRefusal();
    if (!this.leaseValid(nowMs)) return this.leaseRefusal();
    if (acksAll && this.inSync.size < this.options.minInsync) {
      return refusal('NOT_ENOUGH_REPLICAS', `acks=all needs ${this.options.minInsync} followers in the in-sync set (min_insync); it has ${this.inSync.size}; nothing was written`);
    }
    return undefined;
  }

  /** Whether the lease holds (and this leader is neither stopped nor handing over). */
  leaseValid(nowMs: number): boolean {
    return !this.stopped && !this.fenced && nowMs < this.leaseUntilMs;
  }

  get isFenced(): boolean {
    return this.fenced;
  }

  /** The followers with an open stream right now. */
  openStreams(): { stream: number; node: string }[] {
    return [...this.sessions].map(([stream, s]) => ({ stream, node: s.node }));
  }

  followers(nowMs: number): FollowerStatus[] {
    return this.tracker.status(nowMs, this.retention, this.inSync);
  }

  /** The committed in-sync set's followers. */
  inSyncFollowers(): string[] {
    return [...this.inSync];
  }

  /** The shard's other members, as the metadata last said. */
  memberFollowers(): string[] {
    return [...this.followerSet];
  }

  /** Whether a read that saw the engine at `seq` may be answered at once: the rule `settle` applies to a read waiter (lease held, in-sync set has applied `seq`). */
  readableNow(seq: number, nowMs: number): boolean {
    return this.leaseValid(nowMs) && this.highWatermark() >= seq;
  }

  /** The highest sequence number every member of the in-sync set has applied (the high watermark). */
  highWatermark(): number {
    let hw = this.retention.lastSeq;
    for (const node of this.waitedOn()) hw = Math.min(hw, this.tracker.applied(node));
    return hw;
  }

  get waitingWrites(): number {
    return this.waiters.length;
  }

  get currentTerm(): number {
    return this.term;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private open(e: Extract<LeaderEvent, { type: 'open' }>, nowMs: number): Refusal | undefined {
    if (this.stopped) return refusal('NOT_LEADER', `${this.options.address} is no longer the leader`);
    if (!this.followerSet.has(e.node)) return refusal('NOT_A_MEMBER', `${e.node} is not a member of this shard; only its members may follow it`);
    const plan = planCatchUp({
      from: e.from, followerDataTerm: e.dataTerm, followerTerm: e.term, leaderTerm: this.term,
      history: this.history, leaderSeq: this.retention.lastSeq, retainedFrom: this.retention.servableFrom,
    });
    if (plan.kind === 'refuse') {
      this.out.refreshMetadata = true;
      return refusal('STALE_TERM', `follower ${e.node} knows term ${e.term}, newer than this leader's ${this.term}`);
    }
    const snapshot = plan.kind === 'snapshot';
    if (snapshot) this.log('info', 'follower needs a snapshot', { follower: e.node, from: e.from, reason: plan.reason });
    this.sessions.set(e.stream, { node: e.node, phase: snapshot ? 'snapshot-wait' : 'log', cursor: snapshot ? 0 : e.from, checkpointSeq: undefined, blocked: false, lastSentMs: nowMs, reportIntervalMs: 0, releasePin: undefined });
    this.tracker.connect(e.node, e.stream, snapshot ? 0 : e.from - 1, nowMs);
    this.send(e.stream, { type: 'hello', term: this.term, leader: this.options.address, plan: plan.kind, from: snapshot ? 0 : e.from, leaderSeq: this.retention.lastSeq, history: [...this.history] }, nowMs);
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
    this.send(stream, { type: 'snapshot-begin', term: this.term, seq }, nowMs);
    return undefined;
  }

  private snapshotSent(stream: number, seq: number, count: number, nowMs: number): Refusal | undefined {
    const s = this.sessions.get(stream);
    if (!s) return undefined;
    if (s.phase !== 'snapshot') throw new Error(`leader machine: snapshot-sent for stream ${stream} in phase ${s.phase}`);
    this.send(stream, { type: 'snapshot-end', term: this.term, seq, count }, nowMs);
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
    this.tracker.disconnect(s.node, stream, nowMs);
    this.log('debug', 'replication stream closed', { follower: s.node });
    this.maintainInSync(nowMs);
    this.settle(nowMs);
  }

  private report(e: Extract<LeaderEvent, { type: 'report' }>, nowMs: number): Refusal | undefined {
    if (!this.followerSet.has(e.node)) return refusal('NOT_A_MEMBER', `${e.node} is not a member of this shard`);
    if (e.term > this.term) this.out.refreshMetadata = true;
    if (e.term !== this.term) return refusal('STALE_TERM', `report from ${e.node} at term ${e.term}; this leader is at term ${this.term}`);
    // A follower cannot have applied more than this leader has written.
    const applied = Math.min(e.applied, this.retention.lastSeq);
    if (!this.tracker.report(e.node, applied, nowMs, e.checkpoint)) {
      return refusal('BAD_REQUEST', `no replication stream is open for ${e.node}; open one first`);
    }
    this.maintainInSync(nowMs);
    this.settle(nowMs);
    return undefined;
  }

  private members(followers: readonly string[], inSync: readonly string[], nowMs: number): void {
    this.followerSet = new Set(followers);
    for (const node of this.tracker.nodes()) if (!this.followerSet.has(node)) this.tracker.forget(node);
    const committed = new Set(inSync);
    if (this.proposal && sameSet(this.proposal.inSync, committed)) this.proposal = undefined;
    this.inSync = committed;
    this.maintainInSync(nowMs);
    this.settle(nowMs);
    this.tellReportInterval(nowMs);
  }

  private wait(id: number, seq: number, kind: Waiter['kind'], nowMs: number): Refusal | undefined {
    if (this.stopped) return kind === 'write' ? notLeader(seq) : refusal('NOT_LEADER', `${this.options.address} no longer leads at term ${this.term}`);
    if (this.waiters.length >= this.options.waitersMax) {
      // A write is in the log already: not OVERLOADED, which promises nothing was done.
      const busy = `${this.options.waitersMax} writes and reads already wait for the in-sync set`;
      return kind === 'write' ? refusal('UNCONFIRMED', `the write at seq ${seq} is in the leader's log, but ${busy}; it may or may not survive`) : refusal('OVERLOADED', busy);
    }
    this.waiters.push({ id, seq, deadlineMs: nowMs + this.options.ackTimeoutMs, kind });
    this.lastWaitMs = nowMs;
    this.tellReportInterval(nowMs);
    this.settle(nowMs);
    return undefined;
  }

  private tick(nowMs: number): void {
    for (const id of this.sessions.keys()) this.pump(id, nowMs);
    this.maintainInSync(nowMs);
    this.settle(nowMs);
    // Before the idle heartbeats: a stream told a new interval has just been sent a heartbeat.
    this.tellReportInterval(nowMs);
    for (const [id, s] of this.sessions) {
      if (s.phase === 'log' && !s.blocked && nowMs - s.lastSentMs >= this.options.heartbeatIntervalMs) {
        this.send(id, { type: 'heartbeat', term: this.term, leaderSeq: this.retention.lastSeq }, nowMs);
      }
    }
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const [id, s] of this.sessions) {
      s.releasePin?.();
      this.out.closes.push(id);
    }
    this.sessions.clear();
    for (const w of this.waiters) this.out.settled.push({ id: w.id, refusal: w.kind === 'write' ? notLeader(w.seq) : refusal('NOT_LEADER', `${this.options.address} stopped leading before the read was confirmed`) });
    this.waiters = [];
  }

  /**
   * Proposes one change of the in-sync set when one is due: drop the members that stopped
   * keeping up (first), or take back the ones that have caught up with everything.
   */
  private maintainInSync(nowMs: number): void {
    if (this.proposal || this.stopped) return;
    const lagging = [...this.inSync].filter((n) => !this.tracker.keepsUp(n, nowMs, this.retention));
    if (lagging.length > 0) {
      const inSync = new Set([...this.inSync].filter((n) => !lagging.includes(n)));
      this.log('info', 'dropping followers that stopped keeping up from the in-sync set', { followers: lagging });
      return this.propose(inSync, new Set(), nowMs);
    }
    const caughtUp = [...this.followerSet].filter((n) => !this.inSync.has(n) && this.tracker.isConnected(n) && this.tracker.applied(n) >= this.retention.lastSeq);
    if (caughtUp.length > 0) {
      this.log('info', 'followers caught up: adding them to the in-sync set', { followers: caughtUp });
      this.propose(new Set([...this.inSync, ...caughtUp]), new Set(caughtUp), nowMs);
    }
  }

  private propose(inSync: ReadonlySet<string>, adds: ReadonlySet<string>, nowMs: number): void {
    this.proposal = { inSync, adds };
    this.out.proposeInSync = [...inSync];
    this.tellReportInterval(nowMs);
  }

  /** How often followers should report now (0: after every applied run); the rule is in the file comment. */
  private reportIntervalWanted(nowMs: number): number {
    if (this.lazyReportIntervalMs === 0 || this.waiters.length > 0 || this.proposal || this.fenced || nowMs - this.lastWaitMs < REPORT_EAGER_HOLD_MS) return 0;
    // A migration's giver streams moved ops only up to the high watermark, in its copy phase as
    // well as after its fence: stale positions would hold back both the receiver's catch-up
    // (and so its cutover ask) and the cutover itself, the shard's 503 MIGRATING window.
    if (this.givingStreams > 0) return 0;
    for (const node of this.followerSet) if (!this.inSync.has(node)) return 0;
    return this.lazyReportIntervalMs;
  }

  /** Tells each log-phase stream whose follower reports at another interval than wanted now (a heartbeat frame). */
  private tellReportInterval(nowMs: number): void {
    if (this.stopped) return;
    const wanted = this.reportIntervalWanted(nowMs);
    for (const [id, s] of this.sessions) {
      if (s.phase !== 'log' || s.blocked || s.reportIntervalMs === wanted) continue;
      s.reportIntervalMs = wanted;
      this.send(id, { type: 'heartbeat', term: this.term, leaderSeq: this.retention.lastSeq, reportIntervalMs: wanted }, nowMs);
    }
  }

  /** Whom writes and reads wait for: the committed in-sync set, and members being added to it. */
  private waitedOn(): Iterable<string> {
    return this.proposal ? new Set([...this.inSync, ...this.proposal.adds]) : this.inSync;
  }

  /** Settles every waiter the rules in the file comment now decide. */
  private settle(nowMs: number): void {
    if (this.waiters.length === 0) return;
    const hw = this.highWatermark();
    const leaseValid = this.leaseValid(nowMs);
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.kind === 'read' && !leaseValid) this.out.settled.push({ id: w.id, refusal: this.fenced ? this.fencedRefusal() : this.leaseRefusal() });
      else if (hw >= w.seq && (w.kind === 'read' || this.inSync.size >= this.options.minInsync)) this.out.settled.push({ id: w.id });
      else if (w.kind === 'write' && this.inSync.size < this.options.minInsync && !this.proposal) {
        this.out.settled.push({ id: w.id, refusal: refusal('UNCONFIRMED', `the write at seq ${w.seq} is in the leader's log, but fewer than ${this.options.minInsync} followers stayed in the in-sync set to confirm it; not acknowledged`) });
      } else if (nowMs >= w.deadlineMs) {
        this.out.settled.push({ id: w.id, refusal: refusal('UNCONFIRMED', `the ${w.kind} at seq ${w.seq} was not confirmed by the in-sync set within ${this.options.ackTimeoutMs} ms`) });
      } else still.push(w);
    }
    this.waiters = still;
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
        if (s.cursor - 1 === s.checkpointSeq) this.send(stream, { type: 'checkpoint', term: this.term, seq: s.checkpointSeq }, nowMs);
        s.checkpointSeq = undefined;
      }
      if (s.cursor > this.retention.lastSeq || bytes >= this.options.queuedBytesMax) break;
      const entry = this.retention.entryFor(s.cursor);
      if (!entry) {
        this.log('warn', 'follower fell out of the retention window; ending its stream', { follower: s.node, next: s.cursor, retainedFrom: this.retention.servableFrom });
        this.out.closes.push(stream);
        this.closed(stream, nowMs);
        return;
      }
      this.send(stream, { type: 'batch', term: this.term, first: entry.first, last: entry.last, batch: entry.batch }, nowMs);
      bytes += entry.batch.length;
      s.cursor = entry.last + 1;
    }
    // Caught up: the snapshot's pin has done its job.
    if (s.cursor > this.retention.lastSeq && s.releasePin) {
      s.releasePin();
      s.releasePin = undefined;
    }
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

  private fencedRefusal(): Refusal {
    return refusal('NOT_LEADER', `${this.options.address} is handing its leadership over; retry at the new leader`);
  }

  private leaseRefusal(): Refusal {
    return refusal('LEASE_EXPIRED', `${this.options.address} leads at term ${this.term} but holds no valid lease from the control plane; retry shortly`);
  }

  private log(level: LogLine['level'], message: string, fields: Record<string, unknown>): void {
    this.out.logs.push({ level, message, fields });
  }
}

function emptyReady(): LeaderReady {
  return { frames: [], snapshots: [], closes: [], settled: [], proposeInSync: undefined, refreshMetadata: false, logs: [] };
}

function refusal(code: ClusterErrorCode, message: string): Refusal {
  return { code, message };
}

/** A write already in the log when leadership ended: it may survive (the new leader may have it), so not NOT_LEADER, which promises nothing was written. */
function notLeader(seq: number): Refusal {
  return refusal('UNCONFIRMED', `the write at seq ${seq} is in this node's log, but the node lost its leadership before it was confirmed; it may or may not survive`);
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
