/**
 * The cluster layer's public face for tests and tools: the protocol leaf (re-exported whole)
 * and the node's pure parts: routing decisions, request parsing, node state, and the pure
 * parts of replication. The node itself (server, replication's I/O, the engine) starts from
 * node.ts. A client should import protocol/ or net/ instead: this file loads the engine.
 */
export * from '../protocol/index.ts';
export { decide, type Decision, type RoutingRequest } from './routing.ts';
export { parseRoute, type Route, type ScanRange } from './request.ts';
export { nodeStateFor, topologyOf, type NodeState } from './node-state.ts';
export { applyCommand, EMPTY_METADATA, locateNode, type Command, type Metadata, type ShardMeta } from './control/metadata.ts';
export { appendTerm, endOfTerm, planCatchUp, type CatchUpPlan } from './replication/term-history.ts';
export { FollowerTracker, type FollowerStatus } from './replication/follower-tracker.ts';
export { RetentionLog } from './replication/retention-log.ts';
