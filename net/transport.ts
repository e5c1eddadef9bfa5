/**
 * The network seam: one request to one node, whole body in and whole body out. The client
 * talks to nodes only through a `Transport`, so tests can script redirects and failures
 * without sockets. HttpTransport is the real one (node:http with keep-alive).
 */
import http from 'node:http';
import { parseAddress } from '../protocol/index.ts';
import { ClientError, ConnectionError } from './errors.ts';

export interface TransportRequest {
  method: string;
  /** Path and query, already percent-encoded. */
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

export interface TransportResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  body: Uint8Array;
}

export interface Transport {
  /** Rejects with ConnectionError when no response arrived. */
  request(address: string, request: TransportRequest): Promise<TransportResponse>;
  close(): void;
}

export interface HttpTransportOptions {
  /** A request with no response after this long fails with a ConnectionError. */
  requestTimeoutMs: number;
  /** Larger responses are cut off with BAD_RESPONSE rather than filling memory. */
  responseBytesMax: number;
  /** Connections kept open per node. */
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
    const parsed = parseAddress(address);
    if (!parsed) return Promise.reject(new ClientError('INVALID_ARGUMENT', `not a host:port address: ${JSON.stringify(address)}`));
    const host = parsed.host.startsWith('[') ? parsed.host.slice(1, -1) : parsed.host;
    const body = request.body ?? new Uint8Array(0);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host, port: parsed.port, method: request.method, path: request.path, agent: this.agent,
          headers: { ...request.headers, 'Content-Length': String(body.length) },
          timeout: this.options.requestTimeoutMs,
        },
        (res) => this.collect(address, res, resolve, reject),
      );
      req.on('timeout', () => req.destroy(new Error(`no response within ${this.options.requestTimeoutMs} ms`)));
      req.on('error', (error) => reject(new ConnectionError(address, error.message, { cause: error })));
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
    res.on('end', () => {
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(res.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      resolve({ status: res.statusCode ?? 0, headers, body: new Uint8Array(Buffer.concat(chunks, total)) });
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
