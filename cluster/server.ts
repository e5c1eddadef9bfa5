/**
 * The node's HTTP server: the I/O shell around api.ts. It owns the listening socket, the
 * in-flight count and its limit, the parser's limits, draining on shutdown, and each
 * request's latency figure (metrics.ts) and, at the trace level only, its log line.
 *
 * Concurrency: `inflight` changes only in the request listener and in the response's
 * 'close' handler, both on the event loop, so it is exact. Once `drain()` starts, no new
 * request is served (503 SHUTTING_DOWN), and the engine may be closed once it resolves.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { handleRequest, type ApiOptions, type RequestTag } from './api.ts';
import type { AuthScope } from '../protocol/config.ts';
import { ClusterError } from '../protocol/errors.ts';
import { contextOf, sendError } from './http-response.ts';
import { statusOf } from '../protocol/errors.ts';
import { CONNECTION_CHECK_INTERVAL_MS_MAX, HEADERS_TIMEOUT_MS_MAX, INTERNAL_INFLIGHT_MAX, KEEP_ALIVE_TIMEOUT_MS } from './limits.ts';
import { HEADER_BYTES_MAX, type Limits } from '../protocol/limits.ts';
import { errorFields, type Log } from './log.ts';
import { methodLabel, UNMATCHED_ROUTE, type NodeMetrics } from './metrics.ts';
import type { NodeState } from './node-state.ts';
import type { ReplicationController } from './replication/controller.ts';
import type { ControlPlane } from './control/control-plane.ts';
import type { Metadata } from './control/metadata.ts';
import type { Store } from './store.ts';
import type { EventLog } from './events.ts';
import type { Peers } from './peers.ts';
import { TurnQueue } from './turn-queue.ts';
import { accessOf, ROUTES } from './routes.ts';
import { splitUrl } from './request.ts';

const REPLICATION_STREAM_PATH = ROUTES['replication-stream'].path;

export interface NodeServerOptions {
  state: NodeState;
  store: Store;
  limits: Readonly<Limits>;
  token: string | undefined;
  internalToken: string | undefined;
  authScope: AuthScope;
  log: Log;
  replication: ReplicationController;
  metrics: NodeMetrics;
  /** The control plane, on a controller node. */
  control: ControlPlane | undefined;
  /** The metadata this node knows. */
  metadata(): Metadata;
  controllers: readonly string[];
  events: EventLog;
  peers: Peers;
}

export class NodeServer {
  private state: NodeState;
  private readonly server: Server;
  private readonly limits: Readonly<Limits>;
  private readonly log: Log;
  private readonly api: ApiOptions;
  private readonly metrics: NodeMetrics;
  /** Decided once: the per-request line costs nothing unless the log is at trace. */
  private readonly traceRequests: boolean;
  private inflight = 0;
  private internalInflight = 0;
  /** Replication streams among the in-flight requests: they last until closed, so a drain does not wait for them. */
  private streams = 0;
  private draining = false;
  private idle: (() => void) | undefined;

  constructor(options: NodeServerOptions) {
    this.state = options.state;
    this.limits = options.limits;
    this.log = options.log;
    this.metrics = options.metrics;
    this.traceRequests = options.log.enabled?.('trace') ?? true;
    this.api = {
      store: options.store,
      limits: options.limits,
      token: options.token,
      internalToken: options.internalToken,
      authScope: options.authScope,
      log: options.log,
      replication: options.replication,
      metrics: options.metrics,
      control: options.control,
      metadata: options.metadata,
      controllers: options.controllers,
      events: options.events,
      peers: options.peers,
      writes: new TurnQueue(),
      state: () => this.state,
      status: () => ({ listening: this.boundAddress(), inflight: this.inflight, internalInflight: this.internalInflight, draining: this.draining }),
    };
    this.server = createServer({
      maxHeaderSize: HEADER_BYTES_MAX,
      requestTimeout: options.limits.requestTimeoutMs,
      headersTimeout: Math.min(options.limits.requestTimeoutMs, HEADERS_TIMEOUT_MS_MAX),
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      // Node checks the two timeouts above only this often (30 s by default), so a stalled
      // request could hold a connection for up to twice its timeout.
      connectionsCheckingInterval: Math.min(CONNECTION_CHECK_INTERVAL_MS_MAX, options.limits.requestTimeoutMs),
      // Node's own answer to a missing Host is an empty 400; onRequest answers it in JSON.
      requireHostHeader: false,
    });
    this.server.on('request', (req, res) => this.onRequest(req, res, false));
    // Without this listener Node answers `Expect: 100-continue` itself before we can refuse the body.
    this.server.on('checkContinue', (req, res) => this.onRequest(req, res, true));
    // Any other expectation: Node would answer an empty 417.
    this.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      const context = contextOf(this.state);
      res.setHeader('Connection', 'close');
      sendError(res, new ClusterError('EXPECTATION_FAILED', `unsupported Expect header ${JSON.stringify(req.headers.expect)}; only 100-continue is`), context);
    });
    // CONNECT is not an API method; without a listener Node closes the connection unanswered.
    this.server.on('connect', (_req: IncomingMessage, socket: Socket) => {
      writeRawError(socket, 405, 'METHOD_NOT_ALLOWED', 'CONNECT is not supported', 'Allow: GET, PUT, DELETE, POST\r\n');
    });
    this.server.on('clientError', (error, socket) => this.onClientError(error, socket as Socket));
  }

  /** Swaps in a new NodeState (a role or topology change); requests in flight keep the old one. */
  setState(next: NodeState): void {
    this.state = next;
  }

  /** Starts listening; resolves with the bound address. */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Stops taking requests, lets in-flight ones finish (up to `drainTimeoutMs`; replication
   * streams are not waited for), then closes every connection. Afterwards nothing touches the store.
   */
  async drain(): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.busy() > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.limits.drainTimeoutMs);
      });
      const idle = new Promise<boolean>((resolve) => {
        this.idle = () => resolve(false);
      });
      const late = await Promise.race([idle, timedOut]);
      clearTimeout(timer);
      if (late) this.log('warn', 'drain timed out; cutting connections', { inflight: this.inflight, internalInflight: this.internalInflight });
    }
    this.server.closeAllConnections();
    await closed;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const startedMs = performance.now();
    const tag: RequestTag = { route: UNMATCHED_ROUTE };
    let counted = false;
    const url = req.url ?? '/';
    const stream = url.startsWith(REPLICATION_STREAM_PATH);
    // Node-to-node requests have a budget of their own: clients at their limit must not cut a
    // node off from its peers (its lease, the metadata, Raft).
    const internal = accessOf(splitUrl(url).path) === 'internal';
    // One listener for both jobs: a 'close' listener per request is not free at 30k requests/s.
    res.once('close', () => {
      if (counted) {
        if (internal) this.internalInflight--;
        else this.inflight--;
        if (stream) this.streams--;
        if (this.busy() === 0 && this.idle) this.idle();
      }
      this.finished(req, res, tag, startedMs);
    });
    const context = contextOf(this.state);
    // HTTP/1.1 requires Host (RFC 9112 §3.2); Node's own refusal has no JSON body, so refuse here.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      res.setHeader('Connection', 'close');
      return sendError(res, new ClusterError('BAD_REQUEST', 'an HTTP/1.1 request must carry a Host header'), context);
    }
    if (this.draining) return sendError(res, new ClusterError('SHUTTING_DOWN', 'node is shutting down; retry on another node or later'), context);
    if (internal ? this.internalInflight >= INTERNAL_INFLIGHT_MAX : this.inflight >= this.limits.inflightRequestsMax) {
      res.setHeader('Connection', 'close');
      const [count, limit] = internal ? [this.internalInflight, INTERNAL_INFLIGHT_MAX] : [this.inflight, this.limits.inflightRequestsMax];
      return sendError(res, new ClusterError('OVERLOADED', `node is serving ${count} ${internal ? 'node-to-node ' : ''}requests, its limit of ${limit}; retry later`), context);
    }
    if (internal) this.internalInflight++;
    else this.inflight++;
    counted = true;
    if (stream) this.streams++;
    handleRequest(this.api, req, res, expectContinue, tag).catch((error: unknown) => {
      // handleRequest answers every failure itself; reaching here is a bug in it.
      this.log('error', 'request handler rejected', errorFields(error));
      res.destroy();
    });
  }

  /** A response ended (or its connection closed): one latency figure, and a log line at trace. */
  private finished(req: IncomingMessage, res: ServerResponse, tag: RequestTag, startedMs: number): void {
    const ms = performance.now() - startedMs;
    this.metrics.observeRequest(methodLabel(req.method), tag.route, res.statusCode, ms / 1000);
    if (this.traceRequests) {
      this.log('trace', 'request', { method: req.method, url: req.url?.slice(0, 200), route: tag.route, status: res.statusCode, ms: Math.round(ms * 1000) / 1000, completed: res.writableFinished });
    }
  }

  /**
   * Malformed HTTP never reaches a handler; answer it in the API's JSON shape anyway. When a
   * request is still being served on the connection (a parse error in bytes pipelined after
   * it, or its body stalling past the timeout), that request is answered first.
   */
  private onClientError(error: Error & { code?: string }, socket: Socket): void {
    const code = error.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
    const message = code === 'HEADERS_TOO_LARGE' ? `request head is over ${HEADER_BYTES_MAX} bytes` : code === 'REQUEST_TIMEOUT' ? 'request took too long to arrive' : `malformed HTTP request (${error.code ?? 'unknown'})`;
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    if (!inFlight) {
      writeRawError(socket, statusOf(code), code, message);
      return;
    }
    if (code === 'REQUEST_TIMEOUT') {
      // The request's body stalled: answer it with the timeout, if it has not been answered.
      if (inFlight.headersSent) socket.destroy();
      else {
        inFlight.setHeader('Connection', 'close');
        sendError(inFlight, new ClusterError('REQUEST_TIMEOUT', message), contextOf(this.state));
      }
      return;
    }
    // Garbage after a request still in flight: let it be answered, then refuse the rest.
    inFlight.once('finish', () => writeRawError(socket, statusOf(code), code, message));
    inFlight.once('close', () => {
      if (!inFlight.writableFinished) socket.destroy();
    });
  }

  /** Requests a drain waits for: all in flight but replication streams. */
  private busy(): number {
    return this.inflight + this.internalInflight - this.streams;
  }

  private boundAddress(): string | undefined {
    const address = this.server.address();
    if (!address || typeof address === 'string') return undefined;
    return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
  }
}

/** Writes a whole JSON error response straight to a socket (no request object exists) and closes it. */
function writeRawError(socket: Socket, status: number, code: string, message: string, extraHeaders = ''): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}Connection: close\r\n\r\n${body}`,
  );
}
