/**
 * The Raft layer's two kinds of failure.
 *
 * Expected failures are `RaftError`s with a stable upper-case `code`: a caller branches on
 * the code (retry elsewhere, report unknown outcome, refuse a request), never on the message.
 *
 * Broken invariants go through `raftAssert` and throw an AssertionError: a bug in the core or
 * its driver must stop the process before it persists or sends anything wrong.
 */
import { AssertionError } from 'node:assert';
import type { NodeId } from './raft-types.ts';

export type RaftErrorCode =
  /** Only the leader proposes, reads or transfers; `leaderHint` names the leader if known. */
  | 'NOT_LEADER'
  /**
   * The proposal was certainly not applied: refused before it entered the log (the leader is
   * transferring leadership, or too many bytes are uncommitted), or its entry was overwritten.
   */
  | 'PROPOSAL_DROPPED'
  /** A membership change is refused while another is not yet committed. */
  | 'MEMBERSHIP_CHANGE_PENDING'
  /** The leader lost its role before the proposal or read completed: the outcome is unknown. */
  | 'LEADERSHIP_LOST'
  /** No outcome within the driver's `requestTimeoutTicks`: the outcome is unknown. */
  | 'TIMEOUT'
  /** Too many proposals or reads are waiting; nothing was done. */
  | 'OVERLOADED'
  /** The driver stopped (closed, or a storage failure); the outcome is unknown. */
  | 'STOPPED'
  /** A configuration value is out of its range. */
  | 'CONFIG_INVALID'
  /** A caller passed something the core cannot accept (not a voter, an empty node id…). */
  | 'INVALID_ARGUMENT'
  /** A payload or message failed its shape, size or count checks. */
  | 'BAD_MESSAGE'
  /** Stored bytes are not what was written. */
  | 'CORRUPTION';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  /** For NOT_LEADER: the leader this member knows of ('' if none). */
  readonly leaderHint: NodeId;
  constructor(code: RaftErrorCode, message: string, options?: { cause?: unknown; leaderHint?: NodeId }) {
    super(message, options);
    this.code = code;
    this.leaderHint = options?.leaderHint ?? '';
    this.name = 'RaftError';
  }
}

/** True for errors after which a proposal may still have been applied. */
export function outcomeUnknown(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'LEADERSHIP_LOST' || code === 'TIMEOUT' || code === 'STOPPED';
}

/** Stops the process on a broken invariant; `message` names the module and the values. */
export function raftAssert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError({ message: typeof message === 'string' ? message : message() });
}
