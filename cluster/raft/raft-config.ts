/**
 * Every limit of the Raft layer, in one place, units last in the names, validated once by
 * `validateRaftLimits`. The core (raft.ts), the driver (raft-group.ts) and the codec
 * (raft-codec.ts) read their numbers from here and nowhere else.
 *
 * Why these defaults (the metadata group is small and chatty, not a bulk log):
 * - 10 election ticks against 1 heartbeat tick: at a 100 ms tick a follower waits 1–2 s of
 *   silence (randomized in [10, 20) ticks) before campaigning, through 10 missed heartbeats.
 * - 256 in-flight appends of at most 1 MiB each, 16 MiB in flight per follower: a metadata
 *   command is a few hundred bytes, so the window never binds in normal operation and a
 *   follower that catches up gets 16 MiB per round trip.
 * - 4 MiB uncommitted: proposals beyond it are refused (PROPOSAL_DROPPED) rather than queued
 *   while a quorum is unreachable.
 * - 64 MiB per payload: a snapshot travels in one message (chunking is not implemented), so
 *   the metadata snapshot must stay below it; 4096 messages and 65 536 entries per payload.
 */
import { RaftError } from './raft-errors.ts';

export interface RaftLimits {
  /** A follower campaigns after a random silence in [electionTicks, 2 × electionTicks). */
  electionTicks: number;
  /** The leader sends heartbeats every this many ticks. Must be below electionTicks. */
  heartbeatTicks: number;
  /** Campaign with a pre-vote first, so a partitioned member rejoining does not raise terms. */
  preVote: boolean;
  /** The leader steps down after an election timeout without hearing from a quorum. */
  checkQuorum: boolean;
  /** Appends sent to a follower and not yet acknowledged, in the replicate state. */
  inflightAppendsMax: number;
  /** Bytes of entry data in those appends. */
  inflightBytesMax: number;
  /** Entry data bytes in one append message (at least one entry is always sent). */
  appendBytesMax: number;
  /** Entry data bytes the leader holds uncommitted before it refuses proposals. */
  uncommittedBytesMax: number;
  /** Data bytes of one proposal. */
  entryBytesMax: number;
  /** Read requests waiting for their heartbeat quorum at the leader. */
  pendingReadsMax: number;
  /** Driver: proposals waiting to be applied. */
  pendingProposalsMax: number;
  /** Driver: a proposal or read not settled after this many ticks is rejected with TIMEOUT. */
  requestTimeoutTicks: number;
  /** Driver: take a snapshot and compact the log once this many entries are applied past the last one. */
  snapshotEntries: number;
  /** Codec: bytes of one encoded payload (a batch of messages). */
  payloadBytesMax: number;
  /** Codec: messages in one payload. */
  payloadMessagesMax: number;
  /** Codec: entries in one message. */
  messageEntriesMax: number;
}

export const DEFAULT_RAFT_LIMITS: Readonly<RaftLimits> = Object.freeze({
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  inflightAppendsMax: 256,
  inflightBytesMax: 16 * 1024 * 1024,
  appendBytesMax: 1024 * 1024,
  uncommittedBytesMax: 4 * 1024 * 1024,
  entryBytesMax: 1024 * 1024,
  pendingReadsMax: 4096,
  pendingProposalsMax: 4096,
  requestTimeoutTicks: 50,
  snapshotEntries: 10_000,
  payloadBytesMax: 64 * 1024 * 1024,
  payloadMessagesMax: 4096,
  messageEntriesMax: 65_536,
});

type NumericLimit = { [K in keyof RaftLimits]: RaftLimits[K] extends number ? K : never }[keyof RaftLimits];

/** Bounds on each numeric limit, so a typo cannot ask for a 1 TiB message. */
export const RAFT_LIMIT_RANGES: { readonly [K in NumericLimit]: readonly [number, number] } = {
  electionTicks: [2, 100_000],
  heartbeatTicks: [1, 100_000],
  inflightAppendsMax: [1, 65_536],
  inflightBytesMax: [1024, 1024 * 1024 * 1024],
  appendBytesMax: [1, 256 * 1024 * 1024],
  uncommittedBytesMax: [1024, 1024 * 1024 * 1024],
  entryBytesMax: [0, 256 * 1024 * 1024],
  pendingReadsMax: [1, 1_000_000],
  pendingProposalsMax: [1, 1_000_000],
  requestTimeoutTicks: [1, 10_000_000],
  snapshotEntries: [1, 100_000_000],
  payloadBytesMax: [1024, 1024 * 1024 * 1024],
  payloadMessagesMax: [1, 1_000_000],
  messageEntriesMax: [1, 10_000_000],
};

/**
 * The defaults with `overrides` applied, checked: CONFIG_INVALID names the first bad field.
 *
 * @example
 * ```ts
 * const limits = validateRaftLimits({ electionTicks: 20 });   // at a 50 ms tick: 1–2 s
 * validateRaftLimits({ heartbeatTicks: 0 });                  // throws CONFIG_INVALID
 * ```
 */
export function validateRaftLimits(overrides: Partial<RaftLimits> = {}): Readonly<RaftLimits> {
  const limits: RaftLimits = { ...DEFAULT_RAFT_LIMITS, ...overrides };
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_RAFT_LIMITS)) throw new RaftError('CONFIG_INVALID', `raft: unknown limit ${JSON.stringify(key)}`);
  }
  for (const [key, [low, high]] of Object.entries(RAFT_LIMIT_RANGES) as Array<[NumericLimit, readonly [number, number]]>) {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value < low || value > high) {
      throw new RaftError('CONFIG_INVALID', `raft: ${key} must be an integer in [${low}, ${high}], got ${JSON.stringify(value)}`);
    }
  }
  for (const key of ['preVote', 'checkQuorum'] as const) {
    if (typeof limits[key] !== 'boolean') throw new RaftError('CONFIG_INVALID', `raft: ${key} must be true or false, got ${JSON.stringify(limits[key])}`);
  }
  if (limits.heartbeatTicks >= limits.electionTicks) {
    throw new RaftError('CONFIG_INVALID', `raft: heartbeatTicks (${limits.heartbeatTicks}) must be below electionTicks (${limits.electionTicks})`);
  }
  if (limits.appendBytesMax > limits.inflightBytesMax) {
    throw new RaftError('CONFIG_INVALID', `raft: appendBytesMax (${limits.appendBytesMax}) must not exceed inflightBytesMax (${limits.inflightBytesMax})`);
  }
  return Object.freeze(limits);
}

/** What the core needs besides its limits. */
export interface RaftConfig {
  /** This member's id. */
  id: string;
  limits: Readonly<RaftLimits>;
  /** A seeded generator in [0, 1) for election timeouts (seededRandom in engine/). */
  random: () => number;
}
