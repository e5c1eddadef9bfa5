/**
 * The cluster layer's expected failures: one error class with a stable upper-case `code`
 * (the same code the HTTP API sends in its `{code, message}` bodies) and an optional `cause`.
 *
 * The HTTP status for each code lives in http-response.ts, so this file stays free of HTTP.
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
  | 'STALE_EPOCH'
  /** /admin/promote on a node that cannot be promoted (already the leader, or mid-snapshot). */
  | 'NOT_PROMOTABLE'
  /** A follower has no checkpoint snapshot at the sequence number an anti-entropy pass asks about. */
  | 'NO_CHECKPOINT'
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
