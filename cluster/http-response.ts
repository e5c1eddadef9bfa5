/**
 * Writing responses: JSON bodies, JSON error bodies (status per code from protocol/errors.ts), redirects.
 * Every error leaves the node as `{"code": "...", "message": "..."}` with the status below;
 * docs/api.md lists the same table.
 */
import type { ServerResponse } from 'node:http';
import { DbError, type DbErrorCode } from '../engine/index.ts';
import { ClusterError, MethodNotAllowedError, NotControllerError, statusOf, type EngineErrorCode } from '../protocol/errors.ts';

/** Compile-time check: every engine code is one the wire knows (protocol/errors.ts EngineErrorCode). */
export const ENGINE_CODES_KNOWN: (code: DbErrorCode) => EngineErrorCode = (code) => code;


/**
 * Common headers: which shard answered at which term, and the metadata version the node routes
 * by, so a client holding an older topology knows to fetch the new one (docs/api.md).
 */
export interface ResponseContext {
  shard: string | undefined;
  term: number | undefined;
  version: number;
}

/** The response context of a node in `state`. */
export function contextOf(state: { shard: { name: string; term: number } | undefined; topology: { version: number } }): ResponseContext {
  return { shard: state.shard?.name, term: state.shard?.term, version: state.topology.version };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, context: ResponseContext): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...baseHeaders(context), 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}

// The two answers on the hot path pass their headers as a flat array, which Node takes as is,
// rather than an object it must walk; any header set earlier with setHeader is still merged.

export function sendBytes(res: ServerResponse, status: number, body: Uint8Array, contentType: string, context: ResponseContext): void {
  const headers = flatHeaders(context);
  headers.push('Content-Type', contentType, 'Content-Length', String(body.length));
  res.writeHead(status, headers);
  res.end(body);
}

export function sendNoContent(res: ServerResponse, seq: number, context: ResponseContext): void {
  const headers = flatHeaders(context);
  headers.push('X-Seq', String(seq));
  res.writeHead(204, headers);
  res.end();
}

/** 202 for an acks=0 write: taken, not yet in the log, so no X-Seq. */
export function sendAccepted(res: ServerResponse, context: ResponseContext): void {
  res.writeHead(202, { ...baseHeaders(context), 'Content-Length': 0 });
  res.end();
}

export function sendRedirect(res: ServerResponse, status: 307 | 308, location: string, shard: string, context: ResponseContext): void {
  res.writeHead(status, { ...baseHeaders(context), Location: location, 'X-Shard': shard, 'Content-Length': 0 });
  res.end();
}

/** Sends any thrown value as a JSON error; unknown errors become INTERNAL (and are logged by the caller). */
export function sendError(res: ServerResponse, error: unknown, context: ResponseContext): void {
  const { code, message } = describeError(error);
  const status = statusOf(code);
  const headers: Record<string, string> = {};
  if (error instanceof MethodNotAllowedError) headers['Allow'] = error.allow.join(', ');
  if (code === 'UNAUTHORIZED') headers['WWW-Authenticate'] = 'Bearer realm="distribkv"';
  if (error instanceof NotControllerError && error.leader) headers['X-Controller-Leader'] = error.leader;
  if (code === 'OVERLOADED' || code === 'WRITE_STALLED' || code === 'NOT_ENOUGH_REPLICAS' || code === 'LEASE_EXPIRED' || code === 'MIGRATING') headers['Retry-After'] = '1';
  if (code === 'SHUTTING_DOWN') headers['Connection'] = 'close';
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, status, { code, message }, context);
}

/** The stable code and message of an error; anything not ours is INTERNAL. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof ClusterError || error instanceof DbError) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: 'internal error; see the node log' };
}

function baseHeaders(context: ResponseContext): Record<string, string> {
  const headers: Record<string, string> = { 'X-Version': String(context.version) };
  if (context.shard !== undefined) headers['X-Shard'] = context.shard;
  if (context.term !== undefined) headers['X-Term'] = String(context.term);
  return headers;
}

function flatHeaders(context: ResponseContext): string[] {
  const headers = ['X-Version', String(context.version)];
  if (context.shard !== undefined) headers.push('X-Shard', context.shard);
  if (context.term !== undefined) headers.push('X-Term', String(context.term));
  return headers;
}
