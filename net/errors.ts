/**
 * The client's errors: one class with a stable `code`. A server refusal carries the server's
 * code (e.g. VALUE_TOO_LARGE) and HTTP status; the client adds its own codes for what it
 * detects itself.
 */

export type ClientErrorCode =
  /** No node could be reached, after the retries idempotent requests get. */
  | 'UNAVAILABLE'
  | 'TOO_MANY_REDIRECTS'
  /** A redirect pointed outside the cluster's known nodes; not followed, to keep the token in. */
  | 'REDIRECT_OUTSIDE_CLUSTER'
  /** A node answered something that is not the documented API. */
  | 'BAD_RESPONSE'
  /** A batch names keys of more than one shard (checked before sending). */
  | 'WRONG_SHARD'
  | 'INVALID_ARGUMENT';

export class ClientError extends Error {
  /** A ClientErrorCode, or the code the server sent. */
  readonly code: string;
  /** The HTTP status when a node answered with an error. */
  readonly status: number | undefined;
  constructor(code: ClientErrorCode | string, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options?.status;
    this.name = 'ClientError';
  }
}

/** The transport could not exchange a request with a node (refused, reset, timed out). */
export class ConnectionError extends Error {
  readonly address: string;
  constructor(address: string, message: string, options?: { cause?: unknown }) {
    super(`${address}: ${message}`, options);
    this.address = address;
    this.name = 'ConnectionError';
  }
}

/**
 * Why a node did not answer, in a word or two for a status table: `refused` (nothing listens),
 * `timeout`, `reset`, `unreachable`, `unknown host`, else the error's own message.
 */
export function unreachableReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host';
  if (/no response within|timed? ?out|ETIMEDOUT/i.test(`${message} ${String(cause?.message ?? '')}`)) return 'timeout';
  return message;
}
