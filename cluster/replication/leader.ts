/**
 * The leader's half of replication, the I/O shell around the pure parts: it records every
 * committed batch in the retention log (the engine's commit listener), serves follower
 * streams, takes their position reports, and holds acks=all writes until the ack rule
 * (follower-tracker.ts) lets them go.
 *
 * Concurrency: the commit listener runs synchronously inside the engine's commit; it only
 * appends to the log and wakes streams. Reports, stream opens and closes, and the heartbeat
 * tick each re-check the waiting writes. `stop` (the node lost its leadership or is shutting
 * down) ends every stream and fails every waiting write with NOT_LEADER: a write that was not
 * acknowledged before the epoch moved on is never acknowledged afterwards.
 *
 * Invariant: the retention log ends at the engine's last sequence number, because the log is
 * created and subscribed in one synchronous step and every commit passes the listener.
 */
import type { ServerResponse } from 'node:http';
import type { Db } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import type { Log } from '../log.ts';
import { planCatchUp, type EpochEntry } from './epoch-history.ts';
import { FollowerTracker, type FollowerStatus } from './follower-tracker.ts';
import type { Acks, ReplicationOptions } from '../../protocol/replication-options.ts';
import { RetentionLog } from './retention-log.ts';
import { StreamSender } from './stream-sender.ts';

export interface LeaderContext {
  db: Db;
  options: Readonly<ReplicationOptions>;
  address: string;
  /** The epoch the node routes by now (it moves when another shard fails over). */
  epoch(): number;
  history(): readonly EpochEntry[];
  log: Log;
  now(): number;
  /** A follower knows a newer epoch than this leader: the node should fetch it from `from`. */
  onNewerEpoch(epoch: number, from: string): void;
}

export interface StreamParams {
  node: string;
  from: number;
  epoch: number;
  dataEpoch: number;
}

interface Waiter {
  seq: number;
  deadlineMs: number;
  resolve(): void;
  reject(error: ClusterError): void;
}

/** Waiting acks=all writes, at most; more are refused as OVERLOADED rather than queued without bound. */
const WAITERS_MAX = 100_000;

export class LeaderReplication {
  readonly retention: RetentionLog;
  readonly tracker: FollowerTracker;
  private readonly streams = new Set<StreamSender>();
  private waiters: Waiter[] = [];
  private readonly unsubscribe: () => void;
  private readonly ticker: NodeJS.Timeout;
  private nextStreamId = 1;
  private stopped = false;

  /** `inherited`: the retention log this node kept as a follower, if it ends where the engine does. */
  constructor(private readonly context: LeaderContext, inherited?: RetentionLog) {
    const { db, options } = context;
    // One synchronous step: no commit can fall between the log's start and the subscription.
    this.retention = inherited?.lastSeq === db.lastSequence ? inherited : new RetentionLog(db.lastSequence, options.retentionBytesMax, options.retentionBatchesMax);
    this.unsubscribe = db.onCommit((first, last, batch) => this.committed(first, last, batch));
    this.tracker = new FollowerTracker(options.replicaLagMaxMs, options.minInsync);
    this.ticker = setInterval(() => this.tick(), options.heartbeatIntervalMs);
    this.ticker.unref();
  }

  /** Refuses an acks=all write up front when too few followers are in sync to confirm it. */
  checkWrite(acks: Acks): void {
    if (acks !== 'all' || this.tracker.canTakeAllAcks(this.context.now(), this.retention)) return;
    const inSync = this.tracker.inSync(this.context.now(), this.retention).length;
    throw new ClusterError('NOT_ENOUGH_REPLICAS', `acks=all needs ${this.context.options.minInsync} in-sync followers (min_insync); ${inSync} are in sync; nothing was written`);
  }

  /** Resolves once the write at `seq` is confirmed as `acks` asks. */
  confirm(seq: number, acks: Acks): Promise<void> {
    if (acks !== 'all') return Promise.resolve();
    if (this.stopped) return Promise.reject(notLeader(seq));
    if (this.waiters.length >= WAITERS_MAX) return Promise.reject(new ClusterError('OVERLOADED', `${WAITERS_MAX} writes already wait for follower acks`));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq, deadlineMs: this.context.now() + this.context.options.ackTimeoutMs, resolve, reject });
      this.settleWaiters();
    });
  }

  /** Serves one follower's stream until it ends. Throws STALE_EPOCH (before any byte) if the follower knows a newer epoch. */
  async serveStream(res: ServerResponse, params: StreamParams, writeHead: () => void): Promise<void> {
    if (this.stopped) throw new ClusterError('NOT_LEADER', 'this node is no longer the leader');
    const plan = planCatchUp({
      from: params.from,
      followerDataEpoch: params.dataEpoch,
      followerEpoch: params.epoch,
      leaderEpoch: this.context.epoch(),
      history: this.context.history(),
      leaderSeq: this.retention.lastSeq,
      retainedFrom: this.retention.servableFrom,
    });
    if (plan.kind === 'refuse') {
      this.context.onNewerEpoch(params.epoch, params.node);
      throw new ClusterError('STALE_EPOCH', `follower ${params.node} knows epoch ${params.epoch}, newer than this leader's ${this.context.epoch()}`);
    }
    if (plan.kind === 'snapshot') this.context.log('info', 'follower needs a snapshot', { follower: params.node, from: params.from, reason: plan.reason });
    writeHead();
    const id = this.nextStreamId++;
    const sender = new StreamSender(this.streamContext(), res, params.node, plan.kind === 'stream' ? plan : { kind: 'snapshot' });
    this.streams.add(sender);
    this.tracker.connect(params.node, id, plan.kind === 'stream' ? params.from - 1 : 0, this.context.now());
    this.context.log('debug', 'replication stream opened', { follower: params.node, from: params.from, plan: plan.kind });
    try {
      await sender.run();
    } finally {
      this.context.log('debug', 'replication stream closed', { follower: params.node });
      this.streams.delete(sender);
      this.tracker.disconnect(params.node, id);
      this.settleWaiters();
    }
  }

  /** A follower's position report. Throws STALE_EPOCH if its epoch differs from this leader's. */
  report(node: string, epoch: number, applied: number, checkpoint: number | undefined): void {
    const mine = this.context.epoch();
    if (epoch > mine) this.context.onNewerEpoch(epoch, node);
    if (epoch !== mine) throw new ClusterError('STALE_EPOCH', `report from ${node} at epoch ${epoch}; this leader is at epoch ${mine}`);
    if (!this.tracker.report(node, applied, this.context.now(), checkpoint)) {
      throw new ClusterError('BAD_REQUEST', `no replication stream is open for ${node}; open one first`);
    }
    this.settleWaiters();
  }

  /** Asks every open stream for a checkpoint frame after `seq`; returns the followers asked. */
  requestCheckpoints(seq: number): string[] {
    const open = [...this.streams].filter((s) => !s.isClosed);
    for (const stream of open) stream.requestCheckpoint(seq);
    return open.map((s) => s.node);
  }

  /** acks=all writes waiting for follower acks. */
  get waitingWrites(): number {
    return this.waiters.length;
  }

  followers(): FollowerStatus[] {
    return this.tracker.status(this.context.now(), this.retention);
  }

  status(): Record<string, unknown> {
    return {
      retention: { servableFrom: this.retention.servableFrom, lastSeq: this.retention.lastSeq, batches: this.retention.size, bytes: this.retention.bytes },
      followers: this.followers().map((f) => ({ ...f, lagMs: Number.isFinite(f.lagMs) ? Math.round(f.lagMs) : null })),
      waitingWrites: this.waiters.length,
    };
  }

  /** Ends every stream and fails every waiting write; the node is no longer this epoch's leader. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    clearInterval(this.ticker);
    for (const stream of this.streams) stream.close();
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(notLeader(w.seq));
  }

  private committed(first: number, last: number, batch: Uint8Array): void {
    this.retention.append(first, last, batch, this.context.now());
    for (const stream of this.streams) stream.wake();
  }

  private tick(): void {
    for (const stream of this.streams) stream.wake();
    this.settleWaiters();
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const now = this.context.now();
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      const decision = this.tracker.decide(w.seq, now, this.retention);
      if (decision === 'ack') w.resolve();
      else if (decision === 'not-enough-replicas') {
        w.reject(new ClusterError('UNCONFIRMED', `the write at seq ${w.seq} is in the leader's log, but fewer than ${this.context.options.minInsync} followers stayed in sync to confirm it; not acknowledged`));
      } else if (now >= w.deadlineMs) {
        w.reject(new ClusterError('UNCONFIRMED', `the write at seq ${w.seq} is in the leader's log, but the in-sync followers did not confirm it within ${this.context.options.ackTimeoutMs} ms; not acknowledged`));
      } else still.push(w);
    }
    this.waiters = still;
  }

  private streamContext() {
    const { db, address, log, now, options } = this.context;
    return {
      db, address, log, now,
      retention: this.retention,
      epoch: () => this.context.epoch(),
      history: () => this.context.history(),
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      snapshotChunkBytes: options.snapshotChunkBytes,
    };
  }
}

function notLeader(seq: number): ClusterError {
  return new ClusterError('NOT_LEADER', `the write at seq ${seq} is in this node's log, but the node lost its leadership before it was confirmed; not acknowledged`);
}
