/**
 * What a failed request tells a history: whether a write certainly was not made (`fail`) or
 * may have been (`info`), and a short code for the history and the counts.
 *
 * A write is "certainly not made" only on an answer below 500 (a 307 the client could not
 * follow, a 4xx), a refusal the API documents as coming before anything is written
 * (NOT_ENOUGH_REPLICAS, LEASE_EXPIRED, OVERLOADED, SHUTTING_DOWN, WRITE_STALLED, DB_CLOSED,
 * MIGRATING: docs/api.md), or a refused connection (nothing was sent). Everything else (a timeout, a
 * reset, UNCONFIRMED, NOT_LEADER, which a deposed leader answers for a write already in its
 * log) may land at any time. Marking a write `fail` that did land is what lets the checker
 * catch a server breaking one of those promises, so the list is kept to the documented ones.
 */
import { ClientError, ConnectionError } from '../../net/index.ts';

const NOT_APPLIED = new Set(['NOT_ENOUGH_REPLICAS', 'LEASE_EXPIRED', 'OVERLOADED', 'SHUTTING_DOWN', 'WRITE_STALLED', 'DB_CLOSED', 'MIGRATING']);

/** True when the write certainly was not made (see the file comment); false means unknown. */
export function certainlyNotApplied(error: unknown): boolean {
  if (!(error instanceof ClientError)) return false;
  if (error.status !== undefined) return error.status < 500 || NOT_APPLIED.has(error.code);
  return connectionCode(error) === 'ECONNREFUSED';
}

/** `NOT_LEADER`, `UNAVAILABLE ECONNREFUSED`, `BAD_RESPONSE 502`, or the message of an error that is not the client's. */
export function codeOf(error: unknown): string {
  if (error instanceof ClientError) {
    const cause = connectionCode(error);
    if (cause) return `${error.code} ${cause}`;
    // A status the API does not document for the request says more than the client's code.
    return error.code === 'BAD_RESPONSE' && error.status !== undefined ? `${error.code} ${error.status}` : error.code;
  }
  return (error as Error).message;
}

/** The socket error code under a client's UNAVAILABLE (ECONNREFUSED, ECONNRESET, …), if any. */
function connectionCode(error: ClientError): string | undefined {
  const connection = error.cause instanceof ConnectionError ? (error.cause.cause as NodeJS.ErrnoException | undefined) : undefined;
  return connection?.code;
}
