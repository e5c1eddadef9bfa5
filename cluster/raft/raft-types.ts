/**
 * The values the Raft core takes in and hands out: log entries, messages, hard and soft
 * state, snapshots, read states and the Ready batch. Plain data, no behaviour, so a
 * transport can encode them (raft-codec.ts) and storage can persist them (raft-storage.ts).
 *
 * Indexes and terms are JavaScript safe integers (< 2^53), like the engine's sequence
 * numbers: at a million entries a second that lasts 285 years.
 */

/** A member's name (the node name the cluster knows it by). Never empty. */
export type NodeId = string;

/** "No node": no vote cast, no leader known. */
export const NONE: NodeId = '';

/** The numbers are on disk (raft-log.md) and on the wire (raft-codec.ts): never renumber. */
export const enum EntryType {
  /** An application command; empty data is the no-op a new leader appends. */
  Normal = 0,
  /** A single-server membership change (membership.ts encodes its data). */
  Membership = 1,
}

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The numbers are on the wire (raft-codec.ts): never renumber. */
export const enum MessageType {
  Vote = 1,
  VoteResponse = 2,
  PreVote = 3,
  PreVoteResponse = 4,
  Append = 5,
  AppendResponse = 6,
  Heartbeat = 7,
  HeartbeatResponse = 8,
  Snapshot = 9,
  TimeoutNow = 10,
}

export const MESSAGE_TYPE_MAX = MessageType.TimeoutNow;

export const MESSAGE_TYPE_NAMES: Readonly<Record<MessageType, string>> = {
  [MessageType.Vote]: 'Vote',
  [MessageType.VoteResponse]: 'VoteResponse',
  [MessageType.PreVote]: 'PreVote',
  [MessageType.PreVoteResponse]: 'PreVoteResponse',
  [MessageType.Append]: 'Append',
  [MessageType.AppendResponse]: 'AppendResponse',
  [MessageType.Heartbeat]: 'Heartbeat',
  [MessageType.HeartbeatResponse]: 'HeartbeatResponse',
  [MessageType.Snapshot]: 'Snapshot',
  [MessageType.TimeoutNow]: 'TimeoutNow',
};

/**
 * One message between members. Flat, like etcd's raftpb.Message: each type uses some fields
 * and leaves the others at their zero value.
 *
 *   Vote, PreVote          index/logTerm: the candidate's last entry; context 'transfer' when
 *                          the campaign follows a leadership transfer (it overrides leases)
 *   *Response to votes     reject: refused
 *   Append                 index/logTerm: the entry just before `entries`; commit
 *   AppendResponse         accepted: index = the last index now matching the leader's log;
 *                          rejected: index = the rejected `index`, rejectHint/logTerm = where
 *                          the follower's log may match (see Raft.handleAppend)
 *   Heartbeat              commit; context: the newest pending read request, if any
 *   HeartbeatResponse      context echoed
 *   Snapshot               snapshot
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: readonly Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  context: string;
  snapshot?: Snapshot;
}

/** The context of the votes of a campaign that a leadership transfer started. */
export const CAMPAIGN_TRANSFER = 'transfer';

/** A message with every unused field at its zero value. */
export function message(fields: Pick<Message, 'type' | 'from' | 'to' | 'term'> & Partial<Message>): Message {
  return { logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: '', ...fields };
}

/** What must be durable before a vote or an append is acknowledged. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: NONE, commit: 0 });

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state the application may watch (who leads); never persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
  readonly term: number;
}

/**
 * The state machine as of `index` (inclusive), with the configuration in effect there.
 * Index 0 is the bootstrap snapshot: no data, the founding voters.
 */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly voters: readonly NodeId[];
  readonly data: Uint8Array;
}

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** A single-server membership change. */
export interface MembershipChange {
  readonly type: 'add' | 'remove';
  readonly node: NodeId;
}

/**
 * What the core asks of its driver, in this order (see raft-group.ts):
 * 1. persist `snapshot` (if any), then `entries`, then `hardState` (if any); fsync if `mustSync`;
 * 2. only then send `messages`;
 * 3. restore the state machine from `snapshot` (if any), apply `committedEntries` in order,
 *    serve `readStates` once their index is applied;
 * 4. call `advance()`.
 */
export interface Ready {
  /** Set when role, leader or term changed since the last Ready. */
  readonly softState?: SoftState;
  /** Set when term, vote or commit changed since the last Ready. */
  readonly hardState?: HardState;
  /** Entries to append; the first may overwrite (truncate) the stored log's suffix. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist and restore. */
  readonly snapshot?: Snapshot;
  /** Committed entries not yet handed out for applying. */
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** False when only the commit index changed: it may be written without an fsync. */
  readonly mustSync: boolean;
}
