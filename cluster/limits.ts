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
 * JSON structure (`{ [ , :`) of an internal or admin route's JSON body. The largest valid ones
 * (anti-entropy's range lists, a metadata command with its shards and members) hold far less;
 * the bound only stops a body built to make the parser work.
 */
export const INTERNAL_JSON_STRUCTURE_MAX = 1_000_000;
/** Nesting of an internal or admin route's JSON body (a metadata command nests about five deep). */
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
/** Entries a shard's term history may hold when it arrives from a peer or from disk. */
export const TERM_HISTORY_ENTRIES_MAX = 100_000;

// ---- Replication ------------------------------------------------------------------------

/** A follower waits at most this long between attempts to reach its leader (backoff doubles from 25 ms). */
export const FOLLOW_RETRY_DELAY_MS_MAX = 1_000;
/** Batches a follower applies as one run (one fsync with follower_sync), at most. */
export const FOLLOWER_BATCHES_PER_RUN_MAX = 256;
/** How long a follower keeps a checkpoint snapshot for the leader's anti-entropy requests. */
export const CHECKPOINT_KEEP_MS = 120_000;
/** acks=all writes a leader holds waiting for follower acks; more are refused as OVERLOADED. */
export const ACK_WAITERS_MAX = 100_000;
/**
 * A follower whose stream closed less than this long ago (or that a new leader has not seen yet
 * in its first this-long) stays in the in-sync set: a reconnect does not shrink it. At most
 * replica_lag_max_ms. An acks=all write may wait this long for a follower that died.
 */
export const IN_SYNC_GRACE_MS_MAX = 1_000;
/** Bytes of frames a leader queues for one stream before it waits for the socket to drain. */
export const STREAM_QUEUED_BYTES_MAX = 1024 * 1024;
/**
 * Position reports (cluster/replication/leader-machine.ts): while nothing waits on followers'
 * positions, they report at most every heartbeat interval, and at most every this share of
 * replica_lag_max_ms, so a follower that keeps up never looks lagging for want of a report.
 */
export const REPORT_INTERVAL_LAG_SHARE = 10;
/** An interval below this (a small replica_lag_max_ms) is not worth it: followers then report after every run. */
export const REPORT_INTERVAL_MS_MIN = 50;
/** After a write or read last waited on the in-sync set, followers keep reporting after every run this long. */
export const REPORT_EAGER_HOLD_MS = 1_000;

// ---- Anti-entropy -----------------------------------------------------------------------

/** Ranges compared key by key per follower in one pass. */
export const ANTI_ENTROPY_RANGES_PER_PASS_MAX = 256;
/** Keys a follower lists per range. */
export const ANTI_ENTROPY_HASHES_PER_RANGE_MAX = 100_000;
/** A follower must pin its checkpoint within this long. */
export const ANTI_ENTROPY_CHECKPOINT_WAIT_MS = 10_000;
/** Repaired keys named in a pass's log line (the rest are counted). */
export const ANTI_ENTROPY_KEYS_LOGGED_MAX = 20;

// ---- The control plane ------------------------------------------------------------------

/** An election that found no in-sync member alive is tried again after this long. */
export const ELECTION_RETRY_MS = 1_000;
/** Node-to-node requests (internal routes) served at once, apart from clients' inflight_requests_max, so a busy node still talks to its peers. */
export const INTERNAL_INFLIGHT_MAX = 1_024;
/** A controller asking an in-sync member where it stands before an election. */
export const CONTROL_STATE_TIMEOUT_MS = 500;
/** A node's call to a controller (propose, lease), beyond a long-poll's own wait. */
export const CONTROL_CALL_TIMEOUT_MS = 2_000;
/** A node's metadata long-poll waits this long on a controller before asking again. */
export const META_LONG_POLL_MS = 5_000;
/** The longest `wait_ms` a controller honours on `GET /internal/meta`. */
export const META_WAIT_MS_MAX = 30_000;
/** Longest pause between attempts to reach a controller (backoff doubles from 25 ms). */
export const CONTROL_RETRY_DELAY_MS_MAX = 500;
/** Metadata long-polls one controller holds at once; more are answered at once with what it has. */
export const CONTROL_WATCHERS_MAX = 4_096;
/** Raft messages queued for one peer; past it the oldest are dropped (Raft resends). */
export const RAFT_MESSAGES_QUEUED_MAX = 4_096;
/** A batch of Raft messages to a peer must be answered within this long. */
export const RAFT_SEND_TIMEOUT_MS = 2_000;
/** Bytes of a Raft payload a controller accepts (the codec's own limit, checked again on decode). */
export const RAFT_BODY_BYTES_MAX = 64 * 1024 * 1024;
/** A controller stopping while it leads waits this long at most for another to take over. */
export const STEP_DOWN_WAIT_MS = 2_000;
/** A graceful handover waits this long at most for its target to catch up. */
export const TRANSFER_CATCH_UP_MS_MAX = 10_000;

// ---- Migrations (cluster/migration/) ------------------------------------------------------

/** Bytes of keys and values in one snapshot chunk or `moved` frame of a migration stream. */
export const MIGRATION_CHUNK_BYTES = 256 * 1024;
/** How often a migration stream looks for newly committed batches, and a receiver or giver for its next step. */
export const MIGRATION_POLL_MS = 20;
/** A receiver proposes cutover once it is at most this many of the giver's sequence numbers behind. */
export const MIGRATION_CUTOVER_LAG_MAX = 256;
/** A receiver records its durable progress in the metadata at most this often. */
export const MIGRATION_PROGRESS_MS = 2_000;
/** Ops per batch when a receiver or giver deletes its copies of moving keys. */
export const MIGRATION_DELETE_BATCH_OPS = 1_000;
/** The longest a migration's loop keeps the event loop before letting timers and requests run (migration/turns.ts). */
export const MIGRATION_TURN_MS = 5;
/** The share of the time a migration's loop may work; it rests the rest (migration/turns.ts). */
export const MIGRATION_WORK_SHARE = 0.1;
/** How soon a giver's cleanup that failed (its leadership lapsed, or its `cleaned` step met a control-plane election) runs again. */
export const MIGRATION_CLEANUP_RETRY_MS = 1_000;

// ---- The operator's view (events, the dashboard) -------------------------------------------

/** Events a node keeps per ring (metadata changes it adopted; its own info-and-above log lines) for GET /admin/events. */
export const EVENTS_KEPT_MAX = 200;
/** Bytes of JSON kept of one log line's fields in the event ring. */
export const EVENT_FIELDS_BYTES_MAX = 1_000;
/** The dashboard's overview asks every node; one that has not answered within this long is shown as not answering. */
export const OVERVIEW_NODE_TIMEOUT_MS = 1_500;
/** Events the overview returns, newest kept. */
export const OVERVIEW_EVENTS_MAX = 200;
