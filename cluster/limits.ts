/**
 * Every fixed limit of a node, in one place, units last in the names. The limits of the HTTP
 * contract and the ones an operator sets in cluster.toml (`[limits]`, `[replication]`) live in
 * protocol/limits.ts and protocol/replication-options.ts, because clients and tools read them
 * too; these are the node's own: timeouts of node-to-node calls, bounds on queues and on what a
 * peer may send, and the server's connection timers.
 */

// ---- The HTTP server -------------------------------------------------------------------

/** A request's head must arrive within this long (or within request_timeout_ms if shorter). */
export const HEADERS_TIMEOUT_MS_MAX = 10_000;
/** An idle keep-alive connection is closed after this long. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How often Node checks the two timeouts above (or request_timeout_ms if shorter); it checks every 30 s by default. */
export const CONNECTION_CHECK_INTERVAL_MS_MAX = 1_000;
/** Bytes of an internal request's JSON body (anti-entropy's key lists are the largest). */
export const INTERNAL_BODY_BYTES_MAX = 64 * 1024 * 1024;
/**
 * JSON structure (`{ [ , :`) of an internal request's body: the largest, a topology push,
 * carries an epoch history of up to EPOCH_HISTORY_ENTRIES_MAX entries at five each.
 */
export const INTERNAL_JSON_STRUCTURE_MAX = 1_000_000;
/** Nesting of an internal request's JSON body (a topology push nests five deep). */
export const INTERNAL_JSON_DEPTH_MAX = 8;
/**
 * Requests whose body is still arriving, at once; they hold no serving slot (admission.ts),
 * so this bounds what stalled uploads cost: a socket and what they sent.
 */
export const BODIES_RECEIVING_MAX = 1024;
/** Bytes held by all request bodies still arriving, together; a chunk past it is refused OVERLOADED. */
export const BODY_BYTES_RECEIVING_MAX = 256 * 1024 * 1024;
/**
 * After an answer with `Connection: close`, how long a connection stays half-closed, taking
 * the client's last bytes, before it is closed (lingering-close.ts): long enough for a client
 * still sending a body to read the answer instead of a reset.
 */
export const CLOSE_LINGER_MS = 2_000;
/** Requests one connection may have parsed and waiting behind the one being served (pipelining); more and it is cut. */
export const PIPELINED_REQUESTS_MAX = 64;
/**
 * How often the server looks for responses whose bytes stopped flowing (a reader that stopped
 * reading); one that made no progress for request_timeout_ms is cut.
 */
export const WRITE_STALL_CHECK_INTERVAL_MS = 1_000;

// ---- Node-to-node calls (cluster/peers.ts) ---------------------------------------------

/** Bytes of a peer's answer to one request. */
export const PEER_RESPONSE_BYTES_MAX = 64 * 1024 * 1024;
/** Pooled connections kept per peer for requests (streams have their own). */
export const PEER_SOCKETS_MAX = 8;
/** A peer call with no answer after this long fails (calls that name a shorter one use it). */
export const PEER_REQUEST_TIMEOUT_MS = 60_000;
/** A replication stream's response head must arrive within this long. */
export const STREAM_CONNECT_TIMEOUT_MS = 5_000;
/** A follower's position report must be answered within this long. */
export const REPORT_TIMEOUT_MS = 5_000;
/** Asking a peer for its topology or its state. */
export const TOPOLOGY_FETCH_TIMEOUT_MS = 1_000;
/** Pushing a new topology to a peer after a promotion. */
export const TOPOLOGY_PUSH_TIMEOUT_MS = 2_000;
/** Entries an epoch history may hold when it arrives from a peer or from disk. */
export const EPOCH_HISTORY_ENTRIES_MAX = 100_000;

// ---- Replication ------------------------------------------------------------------------

/** A follower waits at most this long between attempts to reach its leader (backoff doubles from 25 ms). */
export const FOLLOW_RETRY_DELAY_MS_MAX = 1_000;
/** Batches a follower applies as one run (one fsync with follower_sync), at most. */
export const FOLLOWER_BATCHES_PER_RUN_MAX = 256;
/** How long a follower keeps a checkpoint snapshot for the leader's anti-entropy requests. */
export const CHECKPOINT_KEEP_MS = 120_000;
/** acks=all writes a leader holds waiting for follower acks; more are refused as OVERLOADED. */
export const ACK_WAITERS_MAX = 100_000;
/** Bytes of frames a leader queues for one stream before it waits for the socket to drain. */
export const STREAM_QUEUED_BYTES_MAX = 1024 * 1024;

// ---- Anti-entropy -----------------------------------------------------------------------

/** Ranges compared key by key per follower in one pass. */
export const ANTI_ENTROPY_RANGES_PER_PASS_MAX = 256;
/** Keys a follower lists per range. */
export const ANTI_ENTROPY_HASHES_PER_RANGE_MAX = 100_000;
/** A follower must pin its checkpoint within this long. */
export const ANTI_ENTROPY_CHECKPOINT_WAIT_MS = 10_000;
/** Repaired keys named in a pass's log line (the rest are counted). */
export const ANTI_ENTROPY_KEYS_LOGGED_MAX = 20;
