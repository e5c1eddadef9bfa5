/**
 * The Raft layer's public face: everything outside cluster/raft/ imports from here.
 *
 *   RaftNode      the pure core (step / tick / ready / advance), raft-node.ts
 *   RaftStorage   its durable state through the engine's file-system seam, raft-storage.ts
 *   RaftGroup     the driver: Ready loop, proposals, linearizable reads, snapshots, raft-group.ts
 *   encodeMessages / decodeMessages   the wire codec (msgpack, batched, bounded), raft-codec.ts
 *
 * docs/control-plane.md explains the whole; docs/formats/raft-log.md the files.
 */
export { RaftNode, type RaftNodeOptions, type RaftLogView, type RaftStatus } from './raft-node.ts';
export type { RaftInitialState } from './raft.ts';
export { DEFAULT_RAFT_LIMITS, RAFT_LIMIT_RANGES, validateRaftLimits, type RaftLimits } from './raft-config.ts';
export { RaftError, outcomeUnknown, type RaftErrorCode } from './raft-errors.ts';
export { describeEntry, describeMessage } from './describe.ts';
export {
  CAMPAIGN_TRANSFER, EMPTY_HARD_STATE, EntryType, MESSAGE_TYPE_NAMES, MessageType, NONE, message,
  type Entry, type HardState, type MembershipChange, type Message, type NodeId, type ReadState, type Ready, type Role, type Snapshot, type SoftState,
} from './raft-types.ts';
export { RaftStorage, type PersistRequest } from './raft-storage.ts';
export { RaftGroup, type RaftGroupOptions, type StateMachine } from './raft-group.ts';
export { decodeMessages, encodeMessageBatches, encodeMessages, RAFT_CODEC_VERSION } from './raft-codec.ts';
export { RAFT_LOG_FORMAT_VERSION } from './raft-log-format.ts';
