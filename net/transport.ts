/**
 * The network seam: every byte that crosses the network, client to node and node to node,
 * goes through a `Transport`. Two shapes of exchange: `request` (whole body in, whole body
 * out, under a size cap) and `stream` (a long response read as it arrives, on a connection of
 * its own, as the replication stream is). HttpTransport is the real one (node:http with
 * keep-alive); net/memory-transport.ts is its in-memory twin for tests, with latency, drops
 * and partitions from a seed.
 *
 * Failures: a request that got no response rejects with ConnectionError (refused, reset, timed
 * out), which callers may retry; a response over `responseBytesMax` rejects with ClientError
 * BAD_RESPONSE. Any HTTP status resolves: reading it is the caller's job.
 */
import http from 'node:http';
import { parseAddress } from '../protocol/address.ts';
import { ClientError, ConnectionError } from './errors.ts';

export interface TransportRequest {
  method: string;
  /** Path and query, already percent-encoded. */
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** This request's own timeout, instead of the transport's `requestTimeoutMs`. */
  timeoutMs?: number;
}

export interface TransportResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  body: Uint8Array;
}

/** A response read as it arrives. */
export interface TransportStream {
  status: number;
  headers: Record<string, string | undefined>;
  /** The body's chunks; the iteration ends when the node ends the response or `close` is called, and throws ConnectionError if the connection breaks. */
  chunks: AsyncIterable<Uint8Array>;
  /** Ends the exchange and its connection; safe to call more than once. */
  close(): void;
}

export interface StreamRequest extends TransportRequest {
  /** The response head must arrive within this long; the body may then last for ever. */
  connectTimeoutMs: number;
}

export interface Transport {
  /** Rejects with ConnectionError when no response arrived. */
  request(address: string, request: TransportRequest): Promise<TransportResponse>;
  /** Opens an exchange whose body is read as it arrives; rejects with ConnectionError if no response head arrives. */
  stream(address: string, request: StreamRequest): Promise<TransportStream>;
  /** Closes pooled connections; open streams are closed by their owners. */
  close(): void;
}

export interface HttpTransportOptions {
  /** A request with no whole response after this long fails with a ConnectionError. */
  requestTimeoutMs: number;
  /** Larger responses are cut off with BAD_RESPONSE rather than filling memory. */
  responseBytesMax: number;
  /** Connections kept open per node for requests (streams have their own). */
  socketsPerNodeMax: number;
}

export class HttpTransport implements Transport {
  private readonly agent: http.Agent;
  private readonly options: HttpTransportOptions;

  constructor(options: HttpTransportOptions) {
    this.options = options;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: options.socketsPerNodeMax });
  }

  request(address: string, request: TransportRequest): Promise<TransportResponse> {
    const target = targetOf(address);
    if (!target) return Promise.reject(badAddress(address));
    const body = request.body ?? new Uint8Array(0);
    const timeoutMs = request.timeoutMs ?? this.options.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const req = http.request(
        { ...target, method: request.method, path: request.path, agent: this.agent, headers: { ...request.headers, 'Content-Length': String(body.length) }, timeout: timeoutMs },
        (res) => this.collect(address, res, resolve, reject),
      );
      req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
      req.on('error', (error) => reject(new ConnectionError(address, error.message, { cause: error })));
      req.end(body);
    });
  }

  stream(address: string, request: StreamRequest): Promise<TransportStream> {
    const target = targetOf(address);
    if (!target) return Promise.reject(badAddress(address));
    const body = request.body ?? new Uint8Array(0);
    return new Promise((resolve, reject) => {
      // A connection of its own: a stream that lasts hours must not hold a pooled socket.
      const req = http.request({ ...target, method: request.method, path: request.path, agent: false, headers: { ...request.headers, 'Content-Length': String(body.length) } });
      const timer = setTimeout(() => req.destroy(new Error(`no response within ${request.connectTimeoutMs} ms`)), request.connectTimeoutMs);
      req.on('response', (res) => {
        clearTimeout(timer);
        const closing = { closed: false };
        const close = () => {
          closing.closed = true;
          req.destroy();
        };
        resolve({ status: res.statusCode ?? 0, headers: flatHeaders(res.headers), chunks: chunksOf(address, res, closing), close });
      });
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(new ConnectionError(address, error.message, { cause: error }));
      });
      req.end(body);
    });
  }

  private collect(address: string, res: http.IncomingMessage, resolve: (r: TransportResponse) => void, reject: (e: Error) => void): void {
    const chunks: Buffer[] = [];
    let total = 0;
    res.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > this.options.responseBytesMax) {
        res.destroy();
        reject(new ClientError('BAD_RESPONSE', `${address}: response over ${this.options.responseBytesMax} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('error', (error) => reject(new ConnectionError(address, `response cut off: ${error.message}`, { cause: error })));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: flatHeaders(res.headers), body: new Uint8Array(Buffer.concat(chunks, total)) }));
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The body of a streamed response; a broken connection becomes a ConnectionError, a close by us a quiet end. */
async function* chunksOf(address: string, res: http.IncomingMessage, closing: { closed: boolean }): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) yield chunk;
  } catch (error) {
    if (closing.closed) return;
    throw new ConnectionError(address, `stream cut off: ${(error as Error).message}`, { cause: error });
  }
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/** node:http's host and port for `host:port`, without IPv6 brackets; undefined if not an address. */
function targetOf(address: string): { host: string; port: number } | undefined {
  const parsed = parseAddress(address);
  if (!parsed) return undefined;
  return { host: parsed.host.startsWith('[') ? parsed.host.slice(1, -1) : parsed.host, port: parsed.port };
}

function badAddress(address: string): ClientError {
  return new ClientError('INVALID_ARGUMENT', `not a host:port address: ${JSON.stringify(address)}`);
}
