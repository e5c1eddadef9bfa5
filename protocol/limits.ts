/**
 * Every limit of the cluster layer, in one place, units last in the names.
 *
 * Why these numbers: a key travels in the URL path, percent-encoded, so an 8 KiB key can need
 * 24 KiB of request line; the header limit leaves room for that plus ordinary headers. Values
 * default to 16 MiB because a whole body is held in memory while a request is served, and
 * `inflightRequestsMax` bounds how many such bodies exist at once (256 × 16 MiB is the worst
 * case a node must be sized for; lower `value_bytes_max` in cluster.toml on small machines).
 *
 * The ones an operator may change live in cluster.toml's `[limits]` table (see config.ts);
 * the rest are part of the HTTP contract (docs/api.md) and fixed.
 */

/** Largest key accepted, in bytes after percent-decoding. Part of the API contract. */
export const KEY_BYTES_MAX = 8 * 1024;

/** Largest request head (request line plus headers) Node's parser accepts. */
export const HEADER_BYTES_MAX = 64 * 1024;

/** Limits an operator may set in cluster.toml's `[limits]` table. */
export interface Limits {
  /** Largest value accepted by PUT, and by each operation of a batch. */
  valueBytesMax: number;
  /**
   * Largest POST /batch body, in bytes (of JSON, or of the binary format: docs/formats/batch.md),
   * and the most value bytes a multi-get's answer carries (before base64 or framing); a bigger
   * answer is refused ANSWER_TOO_LARGE. One limit for both: either is one request's worth of
   * memory held at once.
   */
  batchBytesMax: number;
  /** Most operations in one POST /batch. */
  batchOpsMax: number;
  /** Most entries one scan page returns; the `limit` parameter is capped here. */
  scanEntriesMax: number;
  /** A scan page stops early once its keys and values add up to this many bytes. */
  scanBytesMax: number;
  /** Requests served at once; more are answered 503 OVERLOADED. */
  inflightRequestsMax: number;
  /** A whole request (head and body) must arrive within this time. */
  requestTimeoutMs: number;
  /** On SIGTERM, in-flight requests get this long to finish before connections are cut. */
  drainTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  valueBytesMax: 16 * 1024 * 1024,
  batchBytesMax: 32 * 1024 * 1024,
  batchOpsMax: 10_000,
  scanEntriesMax: 10_000,
  scanBytesMax: 4 * 1024 * 1024,
  inflightRequestsMax: 256,
  requestTimeoutMs: 30_000,
  drainTimeoutMs: 10_000,
});

/** Bounds on the limits themselves, so a typo cannot ask for a 1 TiB value. */
export const LIMIT_RANGES: { readonly [K in keyof Limits]: readonly [number, number] } = {
  valueBytesMax: [0, 512 * 1024 * 1024],
  batchBytesMax: [1024, 1024 * 1024 * 1024],
  batchOpsMax: [1, 1_000_000],
  scanEntriesMax: [1, 1_000_000],
  scanBytesMax: [1024, 256 * 1024 * 1024],
  inflightRequestsMax: [1, 100_000],
  requestTimeoutMs: [100, 3_600_000],
  drainTimeoutMs: [0, 600_000],
};

/** Entries a scan page returns when the request names no `limit`. */
export const SCAN_ENTRIES_DEFAULT = 1000;

// ---- The replication stream's frames (frame-format.ts) ----------------------------------
// A frame is decoded only once its msgpack structure is known to fit these: msgpack spends a
// byte on an empty map, and decoding one costs ~70 bytes of heap, so an 8 MB frame of them
// would otherwise cost seconds and half a gigabyte. The bounds follow from what a valid frame
// holds, so they are on the wire: a leader must not send more.

/** Entries of a shard's term history a hello frame carries, at most (cluster/limits.ts TERM_HISTORY_ENTRIES_MAX is no larger). */
export const FRAME_HISTORY_ENTRIES_MAX = 100_000;
/** Entries (key and value pairs) in one snapshot-chunk frame, at most (leader.ts ends a chunk there; a migration's chunk of MIGRATION_CHUNK_BYTES cannot pass it). */
export const SNAPSHOT_CHUNK_ENTRIES_MAX = 262_144;
/** Ops in one migration `moved` frame, at most (cluster/migration/giver.ts ends a frame there). */
export const MOVED_OPS_MAX = 262_144;
/** Maps and arrays in one frame: the frame, its array, and a hello's history entries or a moved frame's ops. */
export const FRAME_CONTAINERS_MAX = Math.max(FRAME_HISTORY_ENTRIES_MAX, MOVED_OPS_MAX) + 2;
/** msgpack values in one frame, map keys included: a snapshot chunk's keys and values, a hello's history (five per entry), a moved frame's ops (four each), the fields. */
export const FRAME_VALUES_MAX = Math.max(2 * SNAPSHOT_CHUNK_ENTRIES_MAX, 5 * FRAME_HISTORY_ENTRIES_MAX, 4 * MOVED_OPS_MAX) + 64;
/** Nesting of a frame: frame map, history or ops array, history entry or op. */
export const FRAME_DEPTH_MAX = 3;
/**
 * Largest `reportIntervalMs` a heartbeat frame may carry: the largest heartbeat_interval_ms
 * (REPLICATION_RANGES in replication-options.ts), which bounds every interval a leader asks
 * for. A frame over it is malformed, so a buggy leader cannot silence a follower's reports.
 * Here rather than in cluster/limits.ts because the frame decoder, a protocol/ leaf, checks it.
 */
export const REPORT_INTERVAL_MS_MAX = 60_000;

/** Ring and topology bounds, checked when the config is validated. */
export const VNODES_MIN = 1;
/** cluster.vnodes when the config names none. */
export const VNODES_DEFAULT = 128;
export const VNODES_MAX = 4096;
export const SHARDS_MAX = 1024;
export const REPLICAS_PER_SHARD_MAX = 16;
export const CONFIG_BYTES_MAX = 1024 * 1024;
export const TOKEN_BYTES_MIN = 16;
export const TOKEN_BYTES_MAX = 1024;
