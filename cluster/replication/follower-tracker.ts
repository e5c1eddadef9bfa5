/**
 * The leader's view of its followers: who has a stream open, how far each has applied, how
 * far behind each is in sequence numbers and in milliseconds, who is in sync, and whether an
 * acks=all write at a given sequence number may be acknowledged. Pure: the caller feeds it
 * stream opens and closes and position reports, with the time, and asks questions.
 *
 * Lag in ms is the age of the oldest batch the follower has not applied (0 when it has
 * applied everything): a follower that is one batch behind but applies it within a
 * millisecond never looks lagging, and one that stops applying looks older by the second even
 * if few writes arrive. A follower is in sync while it has a stream open and its lag is at
 * most `lagMaxMs` (Kafka's replica.lag.time.max.ms); a batch that is no longer retained counts
 * as infinitely old.
 *
 * The ack rule (acks=all): the write at `seq` is acknowledged once every in-sync follower has
 * applied it, provided at least `minInsync` followers are in sync; with fewer, it fails
 * rather than claiming more copies than exist. A follower that falls out of sync stops being
 * waited for, so a wait lasts at most about `lagMaxMs`.
 */

export interface FollowerStatus {
  node: string;
  connected: boolean;
  applied: number;
  lagSeq: number;
  lagMs: number;
  inSync: boolean;
  /** The last anti-entropy checkpoint the follower reported pinning. */
  checkpoint: number | undefined;
}

/** What the tracker needs from the retention log. */
export interface CommitClock {
  readonly lastSeq: number;
  committedMsOf(seq: number): number | undefined;
}

export type AckDecision = 'ack' | 'wait' | 'not-enough-replicas';

interface Follower {
  streamId: number | undefined;
  applied: number;
  reportedMs: number;
  checkpoint: number | undefined;
}

export class FollowerTracker {
  private readonly followers = new Map<string, Follower>();

  constructor(private readonly lagMaxMs: number, private readonly minInsync: number) {}

  /** A stream opened for `node`, which has applied up to `applied`. Replaces any older stream. */
  connect(node: string, streamId: number, applied: number, nowMs: number): void {
    const previous = this.followers.get(node);
    this.followers.set(node, { streamId, applied, reportedMs: nowMs, checkpoint: previous?.checkpoint });
  }

  /** A stream closed; ignored if a newer stream for the node has replaced it. */
  disconnect(node: string, streamId: number): void {
    const follower = this.followers.get(node);
    if (follower?.streamId === streamId) follower.streamId = undefined;
  }

  /** A position report; positions never move backward. False if the node has no stream open. */
  report(node: string, applied: number, nowMs: number, checkpoint?: number): boolean {
    const follower = this.followers.get(node);
    if (!follower || follower.streamId === undefined) return false;
    follower.applied = Math.max(follower.applied, applied);
    follower.reportedMs = nowMs;
    if (checkpoint !== undefined) follower.checkpoint = checkpoint;
    return true;
  }

  /** How long the oldest batch `node` has not applied has been committed; 0 if it has all. */
  lagMs(node: string, nowMs: number, clock: CommitClock): number {
    const follower = this.followers.get(node);
    if (!follower) return Infinity;
    if (follower.applied >= clock.lastSeq) return 0;
    const committed = clock.committedMsOf(follower.applied + 1);
    return committed === undefined ? Infinity : Math.max(0, nowMs - committed);
  }

  isInSync(node: string, nowMs: number, clock: CommitClock): boolean {
    const follower = this.followers.get(node);
    return follower?.streamId !== undefined && this.lagMs(node, nowMs, clock) <= this.lagMaxMs;
  }

  /** In-sync followers, by address. */
  inSync(nowMs: number, clock: CommitClock): string[] {
    return [...this.followers.keys()].filter((node) => this.isInSync(node, nowMs, clock));
  }

  /** Whether an acks=all write may be taken at all right now. */
  canTakeAllAcks(nowMs: number, clock: CommitClock): boolean {
    return this.inSync(nowMs, clock).length >= this.minInsync;
  }

  /** The ack rule above, for the write at `seq`. */
  decide(seq: number, nowMs: number, clock: CommitClock): AckDecision {
    const inSync = this.inSync(nowMs, clock);
    if (inSync.length < this.minInsync) return 'not-enough-replicas';
    return inSync.every((node) => this.followers.get(node)!.applied >= seq) ? 'ack' : 'wait';
  }

  status(nowMs: number, clock: CommitClock): FollowerStatus[] {
    return [...this.followers].map(([node, f]) => ({
      node,
      connected: f.streamId !== undefined,
      applied: f.applied,
      lagSeq: Math.max(0, clock.lastSeq - f.applied),
      lagMs: this.lagMs(node, nowMs, clock),
      inSync: this.isInSync(node, nowMs, clock),
      checkpoint: f.checkpoint,
    }));
  }
}
