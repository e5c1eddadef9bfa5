/**
 * Replication's settings, from cluster.toml's `[replication]` table (parsed in config.ts),
 * units last in the names. docs/replication.md explains what each one trades.
 *
 * Why these defaults: on one LAN a follower applies a batch within a millisecond or two, so a
 * follower 5 s behind is broken or overloaded, not slow; dropping it from the in-sync set
 * after 5 s bounds how long an acks=all write can stall on it. 64 MiB of retained batches
 * covers about a minute of 1 MiB/s of writes, enough for a follower restart without a
 * snapshot. Anti-entropy reads every key on both sides, so it runs rarely (every 10 min).
 */

/** How much confirmation a write waits for before its 204: none, the leader's log, or every in-sync follower. */
export type Acks = 0 | 1 | 'all';

export interface ReplicationOptions {
  /** `acks` when a write does not say. */
  acksDefault: Acks;
  /** Followers that must be in sync for an acks=all write to be taken (0 lets a lone leader ack it). */
  minInsync: number;
  /** A follower whose oldest unapplied batch is older than this drops out of the in-sync set. */
  replicaLagMaxMs: number;
  /** An acks=all write still unconfirmed after this long is answered UNCONFIRMED. */
  ackTimeoutMs: number;
  /** Bytes of recent batches the leader keeps for followers to resume from. */
  retentionBytesMax: number;
  /** Batches the leader keeps, whatever their size. */
  retentionBatchesMax: number;
  /** A replica read with min_seq waits at most this long for the replica to apply it. */
  replicaReadWaitMsMax: number;
  /** The leader sends a heartbeat on each idle stream this often; a follower hearing nothing for 8 of them reconnects. */
  heartbeatIntervalMs: number;
  /** Time between anti-entropy passes on the leader; 0 turns the periodic pass off. */
  antiEntropyIntervalMs: number;
  /** Keys per compared range in an anti-entropy pass. */
  antiEntropyRangeKeys: number;
  /** Whether a follower fsyncs each applied batch (its acks then mean "on disk"). */
  followerSync: boolean;
  /** Bytes of keys and values per snapshot frame. */
  snapshotChunkBytes: number;
}

export const DEFAULT_REPLICATION: Readonly<ReplicationOptions> = Object.freeze({
  acksDefault: 1,
  minInsync: 1,
  replicaLagMaxMs: 5_000,
  ackTimeoutMs: 10_000,
  retentionBytesMax: 64 * 1024 * 1024,
  retentionBatchesMax: 1_000_000,
  replicaReadWaitMsMax: 1_000,
  heartbeatIntervalMs: 250,
  antiEntropyIntervalMs: 600_000,
  antiEntropyRangeKeys: 1024,
  followerSync: false,
  snapshotChunkBytes: 256 * 1024,
} satisfies ReplicationOptions);

type NumericOption = { [K in keyof ReplicationOptions]: ReplicationOptions[K] extends number ? K : never }[keyof ReplicationOptions];

/** Bounds on each numeric setting, so a typo cannot ask for a 1 TiB retention window. */
export const REPLICATION_RANGES: { readonly [K in NumericOption]: readonly [number, number] } = {
  minInsync: [0, 16],
  replicaLagMaxMs: [10, 600_000],
  ackTimeoutMs: [10, 600_000],
  retentionBytesMax: [1024, 16 * 1024 * 1024 * 1024],
  retentionBatchesMax: [1, 100_000_000],
  replicaReadWaitMsMax: [0, 60_000],
  heartbeatIntervalMs: [10, 60_000],
  antiEntropyIntervalMs: [0, 86_400_000],
  antiEntropyRangeKeys: [1, 1_000_000],
  snapshotChunkBytes: [1024, 64 * 1024 * 1024],
};

/** The cluster.toml key of each setting. */
export const REPLICATION_KEYS: Readonly<Record<string, keyof ReplicationOptions>> = {
  acks: 'acksDefault',
  min_insync: 'minInsync',
  replica_lag_max_ms: 'replicaLagMaxMs',
  ack_timeout_ms: 'ackTimeoutMs',
  retention_bytes_max: 'retentionBytesMax',
  retention_batches_max: 'retentionBatchesMax',
  replica_read_wait_ms_max: 'replicaReadWaitMsMax',
  heartbeat_interval_ms: 'heartbeatIntervalMs',
  anti_entropy_interval_ms: 'antiEntropyIntervalMs',
  anti_entropy_range_keys: 'antiEntropyRangeKeys',
  follower_sync: 'followerSync',
  snapshot_chunk_bytes: 'snapshotChunkBytes',
};

/** Parses an `acks` value as written in a query string or cluster.toml; undefined if it is not one. */
export function parseAcks(value: unknown): Acks | undefined {
  if (value === 0 || value === '0') return 0;
  if (value === 1 || value === '1') return 1;
  if (value === 'all') return 'all';
  return undefined;
}
