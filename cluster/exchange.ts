/**
 * One request as the handlers see it: the raw request and response, the URL, the NodeState
 * read once at its start, the headers every answer carries (response context), and its hold
 * on the server's pools (admission.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Ticket } from './admission.ts';
import { readBody, type BodyLimits } from './body.ts';
import type { ResponseContext } from './http-response.ts';
import type { NodeState } from './node-state.ts';

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: string;
  /** The URL's query, without the `?` (split once, at the start). */
  query: string;
  state: NodeState;
  context: ResponseContext;
  /** The client sent `Expect: 100-continue` and waits for it before sending the body. */
  expectContinue: boolean;
  /** Receiving while the body arrives, serving once it has (api.ts admits the request). */
  ticket: Ticket;
  /** The shape bound of a JSON body, set by api.ts for JSON routes. */
  json: BodyLimits['json'];
}

/**
 * Reads the body under `bytesMax` (and the route's JSON shape bound), first sending 100
 * Continue if the client waits for it; once it has arrived, the request takes a serving slot.
 */
export async function body(ex: Exchange, bytesMax: number, tooLarge: 'VALUE_TOO_LARGE' | 'BODY_TOO_LARGE', what: string): Promise<Uint8Array> {
  if (ex.expectContinue && Number(ex.req.headers['content-length'] ?? 0) <= bytesMax) ex.res.writeContinue();
  const ticket = ex.ticket;
  const bytes = await readBody(ex.req, { bytesMax, tooLarge, what, json: ex.json, onBytes: (n) => ticket.received(n) });
  ticket.serve();
  return bytes;
}
