/**
 * The protocol leaf: what nodes, clients and tools share on the wire and in files. The ring
 * and the topology that route keys, cluster.toml's format, the codecs of request and response
 * bodies and of the replication stream, percent-encoding, addresses, CRC-32C, the error codes
 * with their HTTP statuses, and the limits of the HTTP contract.
 *
 * It imports nothing of cluster/, net/ or engine/: the client library (net/) reaches only this
 * folder, so a program that talks to a cluster never loads the storage engine
 * (test/protocol/import-closure.test.ts checks it). The engine takes its CRC-32C from here.
 *
 * @example
 * ```ts
 * const config = parseConfig(await readFile('cluster.toml', 'utf8'), { source: 'cluster.toml' });
 * const topology = Topology.fromConfig(config);
 * topology.shardOf(new TextEncoder().encode('user:42')).leader; // "127.0.0.1:7002"
 * ```
 */
export { Ring, hash64, vnodeLabel, type Hash64 } from './ring.ts';
export { Topology, type ShardInfo, type Role, type TopologyJson, type MigrationJson } from './topology.ts';
export { Placement, moveFilter, type MoveState, type MoveView, type Owner } from './placement.ts';
export { parseConfig, defaultControllers, type ClusterConfig, type ShardConfig, type AuthScope } from './config.ts';
export { loadConfig } from './load-config.ts';
export { parseAddress, formatAddress, canonicalAddress, isLoopbackHost, type Address } from './address.ts';
export { percentDecode, percentEncode } from './percent.ts';
export { encodeBatch, encodeGetBatch, decodeBatch, type AnswerFormat, type BatchOp, type DecodedBatch } from './batch-codec.ts';
export { encodeMultiGet, decodeMultiGet } from './multi-get-codec.ts';
export { BINARY_BATCH_MEDIA_TYPE, decodeBinaryBatch, decodeBinaryMultiGet, encodeBinaryBatch, encodeBinaryGetBatch, encodeBinaryMultiGet } from './batch-binary.ts';
export { encodeScanPage, decodeScanPage, type ScanPage, type Encoding } from './scan-codec.ts';
export { encodeFrame, encodePreamble, FrameDecoder, checkFrame, type Frame, type TermEntry, type MovedOp } from './frame-format.ts';
export { parseAcks, DEFAULT_REPLICATION, type Acks, type ReplicationOptions } from './replication-options.ts';
export { DEFAULT_CONTROL, leaseWaitMs, type ControlOptions } from './control-options.ts';
export { ClusterError, MethodNotAllowedError, configError, STATUS_BY_CODE, statusOf, type ClusterErrorCode, type EngineErrorCode, type WireErrorCode } from './errors.ts';
export { crc32c } from './crc32c.ts';
export * from './limits.ts';
