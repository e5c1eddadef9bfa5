/**
 * What the client sends (an Exchange) and how it reads a node's answer: the expected status,
 * or the node's `{code, message}` error turned into a ClientError; a multi-get's values.
 */
import { BINARY_BATCH_MEDIA_TYPE, decodeBinaryMultiGet, mediaType } from '../protocol/batch-binary.ts';
import { ClusterError } from '../protocol/errors.ts';
import { decodeMultiGet } from '../protocol/multi-get-codec.ts';
import type { Topology } from '../protocol/index.ts';
import { ClientError } from './errors.ts';
import type { TransportResponse } from './transport.ts';

/** One logical request; `target` picks the node from the current topology (again on each retry). */
export interface Exchange {
  method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  path: string;
  body?: Uint8Array;
  contentType?: string;
  /**
   * The same request as a JSON body (`application/json`), for a node that refuses `body`'s
   * binary type with 415: one from before the binary batch format (a rolling upgrade).
   */
  jsonBody?: () => Uint8Array;
  target(topology: Topology): string;
}

/** Throws the node's `{code, message}` error unless the status is `expected`. */
export function expectStatus(res: TransportResponse, expected: number): void {
  if (res.status === expected) return;
  const code = errorCode(res);
  const message = errorMessage(res);
  throw new ClientError(code ?? 'BAD_RESPONSE', message ?? `unexpected HTTP status ${res.status}`, { status: res.status });
}

export function errorCode(res: TransportResponse): string | undefined {
  return parseError(res)?.code;
}

function errorMessage(res: TransportResponse): string | undefined {
  return parseError(res)?.message;
}

function parseError(res: TransportResponse): { code: string; message: string } | undefined {
  if (!res.headers['content-type']?.startsWith('application/json')) return undefined;
  try {
    const doc = JSON.parse(Buffer.from(res.body).toString('utf8')) as { code?: unknown; message?: unknown };
    return typeof doc.code === 'string' && typeof doc.message === 'string' ? { code: doc.code, message: doc.message } : undefined;
  } catch {
    return undefined;
  }
}


/**
 * The values of a 200 multi-get answer of `count` keys, in whichever format the node answered
 * (binary to a binary request; JSON to a JSON one, e.g. from a node older than the binary
 * format). An answer of another Content-Type or malformed is the node's fault: BAD_RESPONSE.
 */
export function readMultiGetAnswer(res: TransportResponse, count: number): (Uint8Array | undefined)[] {
  const type = mediaType(res.headers['content-type']);
  try {
    if (type === BINARY_BATCH_MEDIA_TYPE) return decodeBinaryMultiGet(res.body, count);
    if (type === 'application/json') return decodeMultiGet(res.body, count);
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    throw new ClientError('BAD_RESPONSE', `a node's multi-get answer is malformed: ${error.message}`, { cause: error, status: res.status });
  }
  throw new ClientError('BAD_RESPONSE', `a node answered a multi-get with Content-Type ${JSON.stringify(res.headers['content-type'] ?? '')}; expected ${BINARY_BATCH_MEDIA_TYPE} or application/json`, { status: res.status });
}
