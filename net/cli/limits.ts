/**
 * The CLI's own limits and timers, in one place (the node's are in cluster/limits.ts, the wire's
 * in protocol/limits.ts).
 */

/** `kv status` and `kv cluster` wait this long for each node before calling it down (timeout). */
export const NODE_ASK_TIMEOUT_MS = 2_000;
/** `kv import` sends at most this many operations in one batch… */
export const IMPORT_BATCH_OPS_MAX = 500;
/** …and at most this many bytes of keys and values (the server's default batch limit is 32 MiB). */
export const IMPORT_BATCH_BYTES_MAX = 1024 * 1024;
/** Batches `kv import` has in flight at once, across shards. */
export const IMPORT_BATCHES_IN_FLIGHT_MAX = 8;
/** Bytes of one NDJSON line `kv import` reads (a key and a 16 MiB value in JSON fit). */
export const IMPORT_LINE_BYTES_MAX = 64 * 1024 * 1024;
/** Bytes of a `kv batch` file (the server's default batch limit). */
export const BATCH_FILE_BYTES_MAX = 32 * 1024 * 1024;
/** A run shows a progress bar (on a terminal) only once it has lasted this long. */
export const PROGRESS_DELAY_MS = 1_000;
/** The progress bar is redrawn at most this often. */
export const PROGRESS_INTERVAL_MS = 100;
