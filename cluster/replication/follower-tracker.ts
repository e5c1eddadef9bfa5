/**
 * The leader's view of its followers' positions: who has a stream open, how far each has
 * applied, how far behind each is in sequence numbers and in milliseconds, and whether each
 * keeps up. Pure: the caller feeds it stream opens and closes and position reports, with the
 * time, and asks questions. Which followers count for acks=all is not decided here: that is the
 * committed in-sync set (cluster/control/metadata.ts), which the leader changes by proposing
 * from what this tracker says (leader-machine.ts).
 *
 * Lag in ms is the age of the oldest batch the follower has not applied (0 when it has applied
 * everything): a follower that is one batch behind but applies it within a millisecond never
 * looks lagging, and one that stops applying looks older by the second even if few writes
 * arrive. A follower keeps up while it has a stream open and its lag is at most `lagMaxMs`
 * (Kafka's replica.lag.time.max.ms); a batch that is no longer retained counts as infinitely old.
 * A stream that closed less than `graceMs` ago still counts as open, and so does one that a new
 * leader has not seen yet in its first `graceMs`.
 */

export interface FollowerStatus {
  node: string;
  connected: boolean;
  applied: number;
  lagSeq: number;
  lagMs: number;
  /** Whether the follower keeps up (stream open, lag at most lagMaxMs). */
  keepingUp: boolean;
  /** Whether it is in the committed in-sync set; filled in by the leader machine. */
  inSync: boolean;
  /** The last anti-entropy checkpoint the follower reported pinning. */
  checkpoint: number | undefined;
}

/** What the tracker needs from the retention log. */
export interface CommitClock {
  readonly lastSeq: number;
  committedMsOf(seq: number): number | undefined;
}

interface Follower {
  streamId: number | undefined;
  applied: number;
  reportedMs: number;
  /** When its stream last closed (undefined while one is open). */
  disconnectedMs: number | undefined;
  checkpoint: number | undefined;
}

export class FollowerTracker {
  private readonly followers = new Map<string, Follower>();

  /**
   * `graceMs`: a follower whose stream closed less than this long ago (or that has not connected
   * yet, within this long of `startMs`) still counts as keeping up, so a reconnect or a new
   * leader's first moments do not shrink the in-sync set.
   */
  constructor(private readonly lagMaxMs: number, private readonly graceMs: number, private readonly startMs: number) {}

  /** A stream opened for `node`, which has applied up to `applied`. Replaces any older stream. */
  connect(node: string, streamId: number, applied: number, nowMs: number): void {
    const previous = this.followers.get(node);
    this.followers.set(node, { streamId, applied: Math.max(applied, previous?.applied ?? 0), reportedMs: nowMs, disconnectedMs: undefined, checkpoint: previous?.checkpoint });
  }

  /** A stream closed; ignored if a newer stream for the node has replaced it. */
  disconnect(node: string, streamId: number, nowMs: number): void {
    const follower = this.followers.get(node);
    if (follower?.streamId === streamId) {
      follower.streamId = undefined;
      follower.disconnectedMs = nowMs;
    }
  }

  /** Forgets a node that is no longer a member of the shard. */
  forget(node: string): void {
    this.followers.delete(node);
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

  /** How far `node` has applied (0 if it never connected). */
  applied(node: string): number {
    return this.followers.get(node)?.applied ?? 0;
  }

  isConnected(node: string): boolean {
    return this.followers.get(node)?.streamId !== undefined;
  }

  /** How long the oldest batch `node` has not applied has been committed; 0 if it has all. */
  lagMs(node: string, nowMs: number, clock: CommitClock): number {
    const applied = this.followers.get(node)?.applied ?? 0;
    if (applied >= clock.lastSeq) return 0;
    const committed = clock.committedMsOf(applied + 1);
    return committed === undefined ? Infinity : Math.max(0, nowMs - committed);
  }

  /** A stream open (or closed within the grace) and a lag of at most lagMaxMs. */
  keepsUp(node: string, nowMs: number, clock: CommitClock): boolean {
    const follower = this.followers.get(node);
    // Not seen yet (a new leader's first moments): its position is unknown until it connects, not infinitely behind.
    if (!follower) return nowMs - this.startMs < this.graceMs;
    const since = follower.disconnectedMs;
    const present = since === undefined || nowMs - since < this.graceMs;
    return present && this.lagMs(node, nowMs, clock) <= this.lagMaxMs;
  }

  nodes(): string[] {
    return [...this.followers.keys()];
  }

  status(nowMs: number, clock: CommitClock, inSync: ReadonlySet<string>): FollowerStatus[] {
    return [...this.followers].map(([node, f]) => ({
      node,
      connected: f.streamId !== undefined,
      applied: f.applied,
      lagSeq: Math.max(0, clock.lastSeq - f.applied),
      lagMs: this.lagMs(node, nowMs, clock),
      keepingUp: this.keepsUp(node, nowMs, clock),
      inSync: inSync.has(node),
      checkpoint: f.checkpoint,
    }));
  }
}
