/**
 * Epoch history and the catch-up plan: how a leader decides, from what a connecting follower
 * says about itself, whether to stream its log from the follower's position or to send a
 * snapshot. Pure and synchronous.
 *
 * The history lists, for each epoch in which some node became leader, the sequence number its
 * log stood at then (`startSeq`): ops numbered above `startSeq` (and up to the next entry's
 * `startSeq`) were written under that epoch. Like Kafka's leader-epoch cache or Raft's
 * (term, index) check, it tells a follower's consistent prefix from a divergent tail: a
 * follower whose newest data came from epoch e holds only ops the current leader also holds
 * if its last sequence number is at most the point where epoch e ended in the leader's
 * history. Anything past that point was written by a deposed leader and never made it to the
 * new one, so the follower must drop it: it receives a snapshot, which replaces its data.
 *
 * Invariants of a history: epochs strictly increase; startSeq never decreases.
 */
import { ClusterError } from '../../protocol/errors.ts';
import { EPOCH_HISTORY_ENTRIES_MAX } from '../limits.ts';

import type { EpochEntry } from '../../protocol/frame-format.ts';

export type { EpochEntry };

/** The last sequence number written under epochs up to `epoch`, as `history` knows it (Infinity: still open). */
export function endOfEpoch(history: readonly EpochEntry[], epoch: number): number {
  for (const entry of history) if (entry.epoch > epoch) return entry.startSeq;
  return Infinity;
}

/** `history` plus a new epoch starting after `startSeq`. REQUIRES: a newer epoch, no earlier start. */
export function appendEpoch(history: readonly EpochEntry[], epoch: number, startSeq: number): EpochEntry[] {
  const last = history.at(-1);
  if (last && (epoch <= last.epoch || startSeq < last.startSeq)) {
    throw new Error(`epoch history: cannot append epoch ${epoch} at ${startSeq} after epoch ${last.epoch} at ${last.startSeq}`);
  }
  return [...history, Object.freeze({ epoch, startSeq })];
}

/** The history whose newest epoch is newer (`a` on a tie): the one a node should keep. */
export function newerHistory(a: readonly EpochEntry[], b: readonly EpochEntry[]): readonly EpochEntry[] {
  return (b.at(-1)?.epoch ?? 0) > (a.at(-1)?.epoch ?? 0) ? b : a;
}

/** Validates a history that came over the wire or from disk. */
export function checkHistory(value: unknown, what: string): EpochEntry[] {
  if (!Array.isArray(value) || value.length > EPOCH_HISTORY_ENTRIES_MAX) throw new ClusterError('BAD_REQUEST', `${what}: epoch history must be an array`);
  let previous: EpochEntry | undefined;
  return value.map((raw, i) => {
    const entry = raw as Partial<EpochEntry> | null;
    const epoch = entry?.epoch;
    const startSeq = entry?.startSeq;
    if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startSeq) || epoch! < 1 || startSeq! < 0) {
      throw new ClusterError('BAD_REQUEST', `${what}: history[${i}] must be {epoch >= 1, startSeq >= 0}`);
    }
    if (previous && (epoch! <= previous.epoch || startSeq! < previous.startSeq)) {
      throw new ClusterError('BAD_REQUEST', `${what}: history[${i}] (epoch ${epoch} at ${startSeq}) does not follow epoch ${previous.epoch} at ${previous.startSeq}`);
    }
    previous = Object.freeze({ epoch: epoch!, startSeq: startSeq! });
    return previous;
  });
}

/** What a connecting follower reports, and what the leader knows. */
export interface CatchUpInput {
  /** The follower's next sequence number: its engine's last sequence number + 1. */
  from: number;
  /** The epoch of the newest data the follower holds (0 if it holds none). */
  followerDataEpoch: number;
  /** The topology epoch the follower routes by. */
  followerEpoch: number;
  leaderEpoch: number;
  history: readonly EpochEntry[];
  leaderSeq: number;
  /** The smallest `from` the leader's retained batches can serve (leaderSeq + 1 when none are kept). */
  retainedFrom: number;
}

export type CatchUpPlan =
  | { kind: 'stream'; from: number }
  | { kind: 'snapshot'; reason: 'behind-retention' | 'diverged' | 'ahead' }
  | { kind: 'refuse'; reason: 'stale-leader' };

/** Stream from the follower's position, send a snapshot, or refuse because this leader is deposed. */
export function planCatchUp(input: CatchUpInput): CatchUpPlan {
  const { from, followerDataEpoch, followerEpoch, leaderEpoch, history, leaderSeq, retainedFrom } = input;
  if (followerEpoch > leaderEpoch) return { kind: 'refuse', reason: 'stale-leader' };
  const last = from - 1;
  if (last > leaderSeq) return { kind: 'snapshot', reason: 'ahead' };
  if (followerDataEpoch > leaderEpoch || last > endOfEpoch(history, followerDataEpoch)) return { kind: 'snapshot', reason: 'diverged' };
  if (from >= retainedFrom) return { kind: 'stream', from };
  return { kind: 'snapshot', reason: 'behind-retention' };
}
