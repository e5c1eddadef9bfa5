/**
 * Term history and the catch-up plan: how a leader decides, from what a connecting follower
 * says about itself, whether to stream its log from the follower's position or to send a
 * snapshot. Pure and synchronous.
 *
 * A shard's history lists, for each term in which some node became its leader, the sequence
 * number the new leader's log stood at then (`startSeq`): ops numbered above `startSeq` (and up
 * to the next entry's `startSeq`) were written under that term. Terms are per shard (the
 * control plane commits them, cluster/control/metadata.ts), so one shard's history never holds
 * another shard's sequence numbers. Like Kafka's leader-epoch cache or Raft's (term, index) check, it tells a follower's consistent prefix from a divergent tail: a
 * follower whose newest data came from term e holds only ops the current leader also holds
 * if its last sequence number is at most the point where term e ended in the leader's
 * history. Anything past that point was written by a deposed leader and never made it to the
 * new one, so the follower must drop it: it receives a snapshot, which replaces its data.
 *
 * Invariants of a history: terms strictly increase; startSeq never decreases.
 */
import { ClusterError } from '../../protocol/errors.ts';
import { TERM_HISTORY_ENTRIES_MAX } from '../limits.ts';
import type { TermEntry } from '../../protocol/frame-format.ts';

export type { TermEntry };

/** The last sequence number written under terms up to `term`, as `history` knows it (Infinity: still open). */
export function endOfTerm(history: readonly TermEntry[], term: number): number {
  for (const entry of history) if (entry.term > term) return entry.startSeq;
  return Infinity;
}

/** `history` plus a new term starting after `startSeq`. REQUIRES: a newer term, no earlier start. */
export function appendTerm(history: readonly TermEntry[], term: number, startSeq: number): TermEntry[] {
  const last = history.at(-1);
  if (last && (term <= last.term || startSeq < last.startSeq)) {
    throw new Error(`term history: cannot append term ${term} at ${startSeq} after term ${last.term} at ${last.startSeq}`);
  }
  return [...history, Object.freeze({ term, startSeq })];
}

/** The history whose newest term is newer (`a` on a tie): the one a node should keep. */
export function newerHistory(a: readonly TermEntry[], b: readonly TermEntry[]): readonly TermEntry[] {
  return (b.at(-1)?.term ?? 0) > (a.at(-1)?.term ?? 0) ? b : a;
}

/** Validates a history that came over the wire or from disk. */
export function checkHistory(value: unknown, what: string): TermEntry[] {
  if (!Array.isArray(value) || value.length > TERM_HISTORY_ENTRIES_MAX) throw new ClusterError('BAD_REQUEST', `${what}: term history must be an array`);
  let previous: TermEntry | undefined;
  return value.map((raw, i) => {
    const entry = raw as Partial<TermEntry> | null;
    const term = entry?.term;
    const startSeq = entry?.startSeq;
    if (!Number.isSafeInteger(term) || !Number.isSafeInteger(startSeq) || term! < 1 || startSeq! < 0) {
      throw new ClusterError('BAD_REQUEST', `${what}: history[${i}] must be {term >= 1, startSeq >= 0}`);
    }
    if (previous && (term! <= previous.term || startSeq! < previous.startSeq)) {
      throw new ClusterError('BAD_REQUEST', `${what}: history[${i}] (term ${term} at ${startSeq}) does not follow term ${previous.term} at ${previous.startSeq}`);
    }
    previous = Object.freeze({ term: term!, startSeq: startSeq! });
    return previous;
  });
}

/** What a connecting follower reports, and what the leader knows. */
export interface CatchUpInput {
  /** The follower's next sequence number: its engine's last sequence number + 1. */
  from: number;
  /** The term of the newest data the follower holds (0 if it holds none). */
  followerDataTerm: number;
  /** The shard's term as the follower knows it from the metadata. */
  followerTerm: number;
  leaderTerm: number;
  history: readonly TermEntry[];
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
  const { from, followerDataTerm, followerTerm, leaderTerm, history, leaderSeq, retainedFrom } = input;
  if (followerTerm > leaderTerm) return { kind: 'refuse', reason: 'stale-leader' };
  const last = from - 1;
  if (last > leaderSeq) return { kind: 'snapshot', reason: 'ahead' };
  if (followerDataTerm > leaderTerm || last > endOfTerm(history, followerDataTerm)) return { kind: 'snapshot', reason: 'diverged' };
  if (from >= retainedFrom) return { kind: 'stream', from };
  return { kind: 'snapshot', reason: 'behind-retention' };
}
