/**
 * Node-to-node HTTP: the one seam through which replication, topology pushes and
 * anti-entropy talk to other nodes. Every request carries the cluster token, has a timeout,
 * and reads at most `RESPONSE_BYTES_MAX` of answer. Streams get a connection of their own, so
 * a long-lived replication stream never holds a pooled socket others wait for.
 */
import http from 'node:http';
import { parseAddress } from '../../protocol/address.ts';

/** Largest answer to a node-to-node request (anti-entropy key lists are the big ones). */
export const RESPONSE_BYTES_MAX = 64 * 1024 * 1024;

export interface PeerResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface PeerRequest {
  method: 'GET' | 'POST';
  path: string;
  /** Sent as JSON. */
  json?: unknown;
  timeoutMs: number;
}

export class PeerClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(private readonly token: string | undefined) {}

  /** Sends one request; rejects on connection failure or timeout, resolves with any status. */
  request(address: string, request: PeerRequest): Promise<PeerResponse> {
    const body = request.json === undefined ? undefined : Buffer.from(JSON.stringify(request.json));
    return new Promise((resolve, reject) => {
      const req = http.request(
        { ...target(address), method: request.method, path: request.path, agent: this.agent, timeout: request.timeoutMs, headers: this.headers(body) },
        (res) => {
          const chunks: Buffer[] = [];
          let total = 0;
          res.on('data', (chunk: Buffer) => {
            total += chunk.length;
            if (total > RESPONSE_BYTES_MAX) res.destroy(new Error(`answer over ${RESPONSE_BYTES_MAX} bytes`));
            else chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${request.method} ${address}${request.path.slice(0, 80)}: no answer within ${request.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Opens a streaming GET on a connection of its own; the caller reads (and destroys) the response. */
  openStream(address: string, path: string, connectTimeoutMs: number): Promise<{ request: http.ClientRequest; response: http.IncomingMessage }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ ...target(address), method: 'GET', path, agent: false, headers: this.headers(undefined) });
      const timer = setTimeout(() => req.destroy(new Error(`stream from ${address}: no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      req.on('response', (response) => {
        clearTimeout(timer);
        resolve({ request: req, response });
      });
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private headers(body: Buffer | undefined): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers['Authorization'] = `Bearer ${this.token}`;
    if (body) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(body.length);
    }
    return headers;
  }
}

function target(address: string): { host: string; port: number } {
  const parsed = parseAddress(address);
  if (!parsed) throw new Error(`peer-http: not a host:port address: ${JSON.stringify(address)}`);
  return { host: parsed.host.startsWith('[') ? parsed.host.slice(1, -1) : parsed.host, port: parsed.port };
}

/** A peer's JSON answer, or undefined when it is not JSON. */
export function peerJson(res: PeerResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
}
