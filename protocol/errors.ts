/**
 * The cluster layer's expected failures: one error class with a stable upper-case `code`
 * (the same code the HTTP API sends in its `{code, message}` bodies) and an optional `cause`.
 *
 * Each code has exactly one HTTP status (STATUS_BY_CODE below, checked by the compiler: a
 * new code does not compile until it has one). docs/api.md lists the same table.
 */

export type ClusterErrorCode =
  /** cluster.toml or the command line is wrong. */
  | 'CONFIG_INVALID'
  /** The request is malformed in a way no more specific code covers. */
  | 'BAD_REQUEST'
  /** A key or query parameter has a `%` not followed by two hex digits. */
  | 'BAD_PERCENT_ENCODING'
  | 'EMPTY_KEY'
  | 'KEY_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'BODY_TOO_LARGE'
  | 'BAD_BATCH'
  /** A multi-get's values add up to more than `batch_bytes_max`; nothing is sent, ask for fewer keys. */
  | 'ANSWER_TOO_LARGE'
  /** A JSON body nests deeper or holds more values than any valid one; refused before it is parsed. */
  | 'BODY_TOO_COMPLEX'
  /** A body without the content type its route takes (`application/json` for JSON routes). */
  | 'UNSUPPORTED_MEDIA_TYPE'
  /** The Host header names neither this node nor localhost (DNS rebinding). */
  | 'FOREIGN_HOST'
  /** The Origin header names a web page of another site (cross-site request from a browser). */
  | 'FOREIGN_ORIGIN'
  /** A batch holds keys of more than one shard; the message names the first such key. */
  | 'WRONG_SHARD'
  | 'BAD_QUERY'
  | 'KEY_NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'UNAUTHORIZED'
  /** Scan results hold bytes that are not UTF-8 and the request asked for `encoding=utf8`. */
  | 'NOT_UTF8'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  /** An `Expect` header other than `100-continue`. */
  | 'EXPECTATION_FAILED'
  | 'OVERLOADED'
  | 'SHUTTING_DOWN'
  /** acks=all asked for, but fewer followers than `min_insync` are in sync; nothing was written. */
  | 'NOT_ENOUGH_REPLICAS'
  /**
   * An acks=all write is in the leader's log but was not confirmed as asked: the in-sync
   * followers did not apply it within `ack_timeout_ms`, or fewer than `min_insync` stayed in
   * sync while it waited. It may or may not survive a failover.
   */
  | 'UNCONFIRMED'
  /** This node does not lead the shard (any more); for a write, it is in this node's log and may or may not survive. */
  | 'NOT_LEADER'
  /** A node-to-node message carries an older epoch than the receiver's; the sender must refresh. */
  /** /admin/promote on a node that cannot be promoted (already the leader, or mid-snapshot). */
  | 'NOT_PROMOTABLE'
  /** A follower has no checkpoint snapshot at the sequence number an anti-entropy pass asks about. */
  | 'NO_CHECKPOINT'
  /** A shard's term moved on: the request (an election, an in-sync change, a frame) speaks for an older leadership. */
  | 'STALE_TERM'
  /** An election named a node outside its shard's in-sync set (it may lack acknowledged writes). */
  | 'NOT_IN_SYNC'
  | 'UNKNOWN_SHARD'
  /** The metadata exists: cluster.toml's shards apply only to a new cluster. */
  | 'ALREADY_BOOTSTRAPPED'
  /** A metadata command that would change nothing. */
  | 'NO_CHANGE'
  /** This node is not the control plane's leader (or not a controller); the message names the leader when known. */
  | 'NOT_CONTROLLER'
  /** A shard leader whose lease lapsed takes no writes and serves no leader reads until renewed. */
  | 'LEASE_EXPIRED'
  /** A replication stream or report from a node that is not a member of the shard. */
  | 'NOT_A_MEMBER'
  /** A shard add or remove while another migration is under way. */
  | 'MIGRATION_UNDER_WAY'
  /** A migration step for a migration that is not the one under way. */
  | 'STALE_MIGRATION'
  /** A shard add naming a node that has not joined. */
  | 'UNKNOWN_NODE'
  /** A write to a key whose shard is handing it to another (cutover): retry in a moment, at the owner. */
  | 'MIGRATING'
  /** A replication frame or persisted node state failed its checksum or shape check. */
  | 'CORRUPTION'
  | 'INTERNAL';

export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ClusterError';
  }
}

/** Shorthand for the common case of a config problem. */
export function configError(message: string, cause?: unknown): ClusterError {
  return new ClusterError('CONFIG_INVALID', message, cause === undefined ? undefined : { cause });
}

/** METHOD_NOT_ALLOWED, carrying the methods the route does accept (sent as the Allow header). */
export class MethodNotAllowedError extends ClusterError {
  readonly allow: readonly string[];
  constructor(method: string, path: string, allow: readonly string[]) {
    super('METHOD_NOT_ALLOWED', `${JSON.stringify(method)} is not allowed on ${JSON.stringify(path)}; use ${allow.join(', ')}`);
    this.allow = allow;
    this.name = 'MethodNotAllowedError';
  }
}

/** NOT_CONTROLLER, naming the control plane's leader when known (sent as the X-Controller-Leader header). */
export class NotControllerError extends ClusterError {
  readonly leader: string | undefined;
  constructor(message: string, leader: string | undefined) {
    super('NOT_CONTROLLER', message);
    this.leader = leader;
    this.name = 'NotControllerError';
  }
}

/**
 * Codes of the engine's errors (engine/errors.ts DbErrorCode), which the API passes through
 * unchanged. cluster/http-response.ts checks at compile time that the engine has no others.
 */
export type EngineErrorCode = 'INVALID_ARGUMENT' | 'CORRUPTION' | 'IO_ERROR' | 'NOT_FOUND' | 'DB_CLOSED' | 'DB_LOCKED' | 'WRITE_STALLED';

/** Every code an error response body may carry. */
export type WireErrorCode = ClusterErrorCode | EngineErrorCode;

/** The HTTP status of each code. */
export const STATUS_BY_CODE = Object.freeze({
  CONFIG_INVALID: 500,
  BAD_REQUEST: 400,
  BAD_PERCENT_ENCODING: 400,
  EMPTY_KEY: 400,
  BAD_BATCH: 400,
  // 400, not 413: the request itself may be a few bytes (one large key asked for many times);
  // 413 says "your body is too large", and what must change is how many keys it asks for.
  ANSWER_TOO_LARGE: 400,
  BODY_TOO_COMPLEX: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  FOREIGN_HOST: 421,
  FOREIGN_ORIGIN: 403,
  WRONG_SHARD: 400,
  BAD_QUERY: 400,
  UNAUTHORIZED: 401,
  KEY_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_UTF8: 406,
  REQUEST_TIMEOUT: 408,
  EXPECTATION_FAILED: 417,
  KEY_TOO_LARGE: 413,
  VALUE_TOO_LARGE: 413,
  BODY_TOO_LARGE: 413,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  OVERLOADED: 503,
  SHUTTING_DOWN: 503,
  NOT_ENOUGH_REPLICAS: 503,
  UNCONFIRMED: 503,
  NOT_LEADER: 503,
  NOT_PROMOTABLE: 409,
  NO_CHECKPOINT: 409,
  STALE_TERM: 409,
  NOT_IN_SYNC: 409,
  UNKNOWN_SHARD: 404,
  ALREADY_BOOTSTRAPPED: 409,
  NO_CHANGE: 409,
  NOT_CONTROLLER: 503,
  LEASE_EXPIRED: 503,
  NOT_A_MEMBER: 403,
  MIGRATION_UNDER_WAY: 409,
  STALE_MIGRATION: 409,
  UNKNOWN_NODE: 409,
  MIGRATING: 503,
  INVALID_ARGUMENT: 400,
  CORRUPTION: 500,
  IO_ERROR: 500,
  NOT_FOUND: 500,
  DB_CLOSED: 503,
  DB_LOCKED: 503,
  WRITE_STALLED: 503,
} as const satisfies Record<WireErrorCode, number>);

/** The status of `code`; a code from elsewhere (a newer peer, say) is a 500. */
export function statusOf(code: string): number {
  return (STATUS_BY_CODE as Readonly<Record<string, number>>)[code] ?? 500;
}
