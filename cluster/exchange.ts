/**
 * One request as the handlers see it: the raw request and response, the URL, the NodeState
 * read once at its start, and the headers every answer carries (response context).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from './body.ts';
import type { ResponseContext } from './http-response.ts';
import type { NodeState } from './node-state.ts';

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: string;
  state: NodeState;
  context: ResponseContext;
  /** The client sent `Expect: 100-continue` and waits for it before sending the body. */
  expectContinue: boolean;
}

/** Reads the body under `bytesMax`, first sending 100 Continue if the client waits for it. */
export function body(ex: Exchange, bytesMax: number, tooLarge: 'VALUE_TOO_LARGE' | 'BODY_TOO_LARGE', what: string): Promise<Uint8Array> {
  if (ex.expectContinue && Number(ex.req.headers['content-length'] ?? 0) <= bytesMax) ex.res.writeContinue();
  return readBody(ex.req, bytesMax, tooLarge, what);
}
