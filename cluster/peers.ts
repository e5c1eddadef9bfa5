/**
 * Node-to-node calls, over the one network seam (net/transport.ts): replication and migration
 * streams, position reports, the control plane's Raft messages, metadata watches, proposals
 * and leases, anti-entropy. Every call carries the cluster's internal
 * credential, has a timeout, reads at most PEER_RESPONSE_BYTES_MAX of answer, and speaks JSON;
 * a stream gets a connection of its own.
 */
import { HttpTransport, type Transport, type TransportResponse, type TransportStream } from '../net/transport.ts';
import { PEER_REQUEST_TIMEOUT_MS, PEER_RESPONSE_BYTES_MAX, PEER_SOCKETS_MAX } from './limits.ts';

export interface PeerAnswer {
  status: number;
  headers: Record<string, string | undefined>;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export class Peers {
  constructor(private readonly transport: Transport, private readonly token: string | undefined) {}

  /** Peers over node:http with the node's limits. */
  static overHttp(token: string | undefined): Peers {
    return new Peers(new HttpTransport({ requestTimeoutMs: PEER_REQUEST_TIMEOUT_MS, responseBytesMax: PEER_RESPONSE_BYTES_MAX, socketsPerNodeMax: PEER_SOCKETS_MAX }), token);
  }

  /** One call; rejects with ConnectionError when no answer came, resolves with any status. */
  async call(address: string, method: 'GET' | 'POST', path: string, options: { json?: unknown; timeoutMs: number }): Promise<PeerAnswer> {
    const body = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
    const headers = this.headers();
    if (body) headers['Content-Type'] = 'application/json';
    const res = await this.transport.request(address, { method, path, headers, body, timeoutMs: options.timeoutMs });
    return { status: res.status, headers: res.headers, json: parseJson(res) };
  }

  /** Posts raw bytes (Raft's message batches); resolves with the status and headers. */
  async post(address: string, path: string, body: Uint8Array, contentType: string, timeoutMs: number): Promise<PeerAnswer> {
    const headers = { ...this.headers(), 'Content-Type': contentType };
    const res = await this.transport.request(address, { method: 'POST', path, headers, body, timeoutMs });
    return { status: res.status, headers: res.headers, json: parseJson(res) };
  }

  /** Opens a long GET read as it arrives (the replication stream). */
  stream(address: string, path: string, connectTimeoutMs: number): Promise<TransportStream> {
    return this.transport.stream(address, { method: 'GET', path, headers: this.headers(), connectTimeoutMs });
  }

  close(): void {
    this.transport.close();
  }

  private headers(): Record<string, string> {
    return this.token === undefined ? {} : { Authorization: `Bearer ${this.token}` };
  }
}

/** A JSON body, or undefined when the body is not JSON. */
export function parseJson(res: Pick<TransportResponse, 'body'>): unknown {
  // An empty body (a 204, as every position report's answer is) is not JSON: said without
  // throwing, which costs a stack trace per call.
  if (res.body.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(res.body).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** `code message` of a peer's JSON error answer, for log lines and error messages. */
export function describeAnswer(answer: PeerAnswer): string {
  const body = answer.json as { code?: unknown; message?: unknown } | undefined;
  return `${answer.status} ${typeof body?.code === 'string' ? body.code : ''} ${typeof body?.message === 'string' ? body.message : ''}`.trim();
}
