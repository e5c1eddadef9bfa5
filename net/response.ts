/**
 * What the client sends (an Exchange) and how it reads a node's answer: the expected status,
 * or the node's `{code, message}` error turned into a ClientError.
 */
import type { Topology } from '../protocol/index.ts';
import { ClientError } from './errors.ts';
import type { TransportResponse } from './transport.ts';

/** One logical request; `target` picks the node from the current topology (again on each retry). */
export interface Exchange {
  method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  path: string;
  body?: Uint8Array;
  contentType?: string;
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

