/**
 * The cluster layer's public face: config, ring, topology, routing, the wire codecs that
 * clients share with nodes, and the pure parts of replication. Everything here is pure (no
 * engine, no sockets), so the client library can import it without loading the engine.
 * The node itself (server, replication's I/O, the engine) starts from node.ts.
 *
 * @example
 * ```ts
 * const config = parseConfig(await readFile('cluster.toml', 'utf8'), { source: 'cluster.toml' });
 * const topology = Topology.fromConfig(config);
 * topology.shardOf(new TextEncoder().encode('user:42')).leader; // "127.0.0.1:7002"
 * ```
 */
export { Ring, hash64, vnodeLabel, type Hash64 } from './ring.ts';
export { Topology, type ShardInfo, type Role, type TopologyJson } from './topology.ts';
export { parseConfig, type ClusterConfig, type ShardConfig, type AuthScope } from './config.ts';
export { loadConfig } from './load-config.ts';
export { parseAddress, formatAddress, canonicalAddress, isLoopbackHost, type Address } from './address.ts';
export { percentDecode, percentEncode } from './percent.ts';
export { encodeBatch, decodeBatch, type BatchOp } from './batch-codec.ts';
export { encodeScanPage, decodeScanPage, type ScanPage } from './scan-codec.ts';
export { decide, type Decision, type RoutingRequest } from './routing.ts';
export { parseRoute, type Route, type ScanRange, type Encoding } from './request.ts';
export { nodeStateFor, type NodeState } from './node-state.ts';
export { parseAcks, DEFAULT_REPLICATION, type Acks, type ReplicationOptions } from './replication/options.ts';
export { encodeFrame, encodePreamble, FrameDecoder, type Frame } from './replication/frame-format.ts';
export { appendEpoch, endOfEpoch, planCatchUp, type CatchUpPlan, type EpochEntry } from './replication/epoch-history.ts';
export { FollowerTracker, type AckDecision, type FollowerStatus } from './replication/follower-tracker.ts';
export { RetentionLog } from './replication/retention-log.ts';
export { ClusterError, MethodNotAllowedError, type ClusterErrorCode } from './errors.ts';
export * from './limits.ts';
