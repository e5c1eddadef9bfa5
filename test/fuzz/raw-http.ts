/**
 * HTTP/1.1 over a bare TCP socket, for fuzzing: the request is whatever bytes the caller
 * gives (malformed ones included), and the first response is parsed by hand from what comes
 * back, so nothing on the client side repairs or refuses a request.
 *
 * One request per connection (`sendPipelined`: several, in one write). The outcome is a
 * parsed response, or "closed" (the server ended the connection without a whole response),
 * or "timeout" (nothing conclusive within the client's deadline, which a fuzz test treats as
 * a hang).
 */
import net from 'node:net';

export interface ParsedResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Map<string, string>;
  body: Buffer;
  /** Interim 1xx responses seen before this one (e.g. 100 Continue). */
  interim: number[];
}

export type Exchange =
  | { kind: 'response'; response: ParsedResponse }
  | { kind: 'closed'; received: Buffer; error?: string }
  | { kind: 'timeout'; received: Buffer };

export interface SendOptions {
  /** The request's method, which decides whether the response has a body (HEAD: none). */
  method: string;
  /** Half-close after writing, for requests the server could otherwise wait on forever. */
  halfClose: boolean;
  /** Give up (outcome "timeout") after this long. */
  deadlineMs: number;
}

/** Sends `request` on a fresh connection to `address` and reads the first final response. */
export function sendRaw(address: string, request: Uint8Array, options: SendOptions): Promise<Exchange> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (exchange: Exchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(exchange);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', received }), options.deadlineMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseResponse(received, options.method, false);
      if (parsed) finish({ kind: 'response', response: parsed });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after a whole response still leaves that response; anything else is a close.
      const parsed = parseResponse(received, options.method, true);
      finish(parsed ? { kind: 'response', response: parsed } : { kind: 'closed', received, error: error.code ?? error.message });
    });
    socket.on('close', () => {
      const parsed = parseResponse(received, options.method, true);
      finish(parsed ? { kind: 'response', response: parsed } : { kind: 'closed', received });
    });
    socket.write(request, (error) => {
      // EPIPE and friends: the server closed early (e.g. after refusing an oversize body); the close handler decides.
      if (!error && options.halfClose) socket.end();
    });
  });
}

/**
 * Sends `request` (any number of pipelined requests, as one write) on a fresh connection and
 * reads one response per entry of `methods`, in order. Resolves with the responses read when
 * all have arrived, the server closed, or the deadline passed.
 */
export function sendPipelined(address: string, request: Uint8Array, methods: readonly string[], deadlineMs: number): Promise<ParsedResponse[]> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    let received = Buffer.alloc(0);
    const responses: ParsedResponse[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(responses);
    };
    const timer = setTimeout(finish, deadlineMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      for (;;) {
        const method = methods[responses.length];
        const parsed = method === undefined ? undefined : parseResponseAt(received, method, false);
        if (!parsed) break;
        responses.push(parsed.response);
        received = received.subarray(parsed.end);
      }
      if (responses.length === methods.length) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(request);
  });
}

/** A whole final response at the start of `bytes`, or undefined if more bytes are needed. */
export function parseResponse(bytes: Buffer, method: string, atEof: boolean): ParsedResponse | undefined {
  return parseResponseAt(bytes, method, atEof)?.response;
}

/** The first whole response in `bytes` and the offset just past it. */
function parseResponseAt(bytes: Buffer, method: string, atEof: boolean): { response: ParsedResponse; end: number } | undefined {
  const interim: number[] = [];
  let offset = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', offset);
    if (headEnd < 0) return undefined;
    const lines = bytes.subarray(offset, headEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!match) throw new Error(`raw-http: not an HTTP response: ${JSON.stringify(lines[0])}`);
    const status = Number(match[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    const bodyStart = headEnd + 4;
    if (status >= 100 && status < 200) {
      interim.push(status);
      offset = bodyStart;
      continue;
    }
    const body = readBody(bytes.subarray(bodyStart), status, headers, method, atEof);
    return body === undefined ? undefined : { response: { status, headers, body: body.body, interim }, end: bodyStart + body.length };
  }
}

/** The body and how many bytes of `rest` its framing took, or undefined if more are needed. */
function readBody(rest: Buffer, status: number, headers: Map<string, string>, method: string, atEof: boolean): { body: Buffer; length: number } | undefined {
  if (method === 'HEAD' || status === 204 || status === 304) return { body: Buffer.alloc(0), length: 0 };
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) return decodeChunked(rest);
  const length = headers.get('content-length');
  if (length !== undefined) {
    const n = Number(length);
    return rest.length >= n ? { body: rest.subarray(0, n), length: n } : undefined;
  }
  // No framing: the body runs to the end of the connection.
  return atEof ? { body: rest, length: rest.length } : undefined;
}

function decodeChunked(rest: Buffer): { body: Buffer; length: number } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(rest.subarray(at, lineEnd).toString('latin1').split(';')[0]!, 16);
    if (Number.isNaN(size)) throw new Error('raw-http: bad chunk size in a response');
    if (size === 0) {
      const end = rest.indexOf('\r\n', lineEnd + 2);
      return end < 0 ? undefined : { body: Buffer.concat(parts), length: end + 2 };
    }
    if (rest.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
