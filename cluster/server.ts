/**
 * The node's HTTP server: the I/O shell around api.ts. It owns the listening socket, the
 * parser's limits, the pools requests take (admission.ts), the order of pipelined requests
 * (connection-order.ts), the cut of connections whose reader stopped reading
 * (write-stall-watch.ts), the Host and Origin check (host-check.ts), draining on shutdown,
 * and each request's latency figure (metrics.ts) and, at the trace level only, its log line.
 *
 * Concurrency: the pools' counts change only in the request listener, in api.ts's admission
 * and body reads, and in each response's 'close' handler, all on the event loop, so they are
 * exact. Once `drain()` starts, no new request is served (503 SHUTTING_DOWN), and the engine
 * may be closed once it resolves (replication streams are cut, not waited for).
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Admission } from './admission.ts';
import { handleRequest, type ApiOptions, type RequestTag } from './api.ts';
import { ConnectionOrder } from './connection-order.ts';
import { parseAddress } from '../protocol/address.ts';
import type { AuthScope } from '../protocol/config.ts';
import { ClusterError } from '../protocol/errors.ts';
import { checkHostAndOrigin, stripBrackets, type NodeNames } from './host-check.ts';
import { contextOf, sendError } from './http-response.ts';
import { statusOf } from '../protocol/errors.ts';
import { CLOSE_LINGER_MS, CONNECTION_CHECK_INTERVAL_MS_MAX, HEADERS_TIMEOUT_MS_MAX, INTERNAL_INFLIGHT_MAX, KEEP_ALIVE_TIMEOUT_MS, PIPELINED_REQUESTS_MAX } from './limits.ts';
import { closeInStages } from './lingering-close.ts';
import { HEADER_BYTES_MAX, type Limits } from '../protocol/limits.ts';
import { errorFields, type Log } from './log.ts';
import { methodLabel, UNMATCHED_ROUTE, type NodeMetrics } from './metrics.ts';
import type { NodeState } from './node-state.ts';
import type { ReplicationController } from './replication/controller.ts';
import type { ControlPlane } from './control/control-plane.ts';
import type { Metadata } from './control/metadata.ts';
import { splitUrl } from './request.ts';
import { accessOf } from './routes.ts';
import type { Store } from './store.ts';
import type { EventLog } from './events.ts';
import type { Peers } from './peers.ts';
import { TurnQueue } from './turn-queue.ts';
import { WriteStallWatch } from './write-stall-watch.ts';

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

/** Bind addresses that name no host a client could put in a Host header. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

export class NodeServer {
  private state: NodeState;
  private readonly server: Server;
  private readonly limits: Readonly<Limits>;
  private readonly log: Log;
  private readonly api: ApiOptions;
  private readonly metrics: NodeMetrics;
  /** Decided once: the per-request line costs nothing unless the log is at trace. */
  private readonly traceRequests: boolean;
  private readonly admission: Admission;
  private readonly order = new ConnectionOrder(PIPELINED_REQUESTS_MAX);
  private readonly stalls: WriteStallWatch;
  private names: NodeNames;
  private draining = false;

  constructor(options: NodeServerOptions) {
    this.state = options.state;
    this.limits = options.limits;
    this.log = options.log;
    this.metrics = options.metrics;
    this.traceRequests = options.log.enabled?.('trace') ?? true;
    // Streams: one per follower of this node's shard in the metadata it holds now.
    this.admission = new Admission({
      servingMax: options.limits.inflightRequestsMax,
      internalServingMax: INTERNAL_INFLIGHT_MAX,
      streamFollowers: () => this.state.shard?.replicas ?? [],
    });
    this.names = namesOf(options.state.address, undefined);
    // A response that stops moving for as long as a request may take to arrive is cut.
    this.stalls = new WriteStallWatch(options.limits.requestTimeoutMs, (socket, stalledMs) => {
      this.log('warn', 'a connection stopped reading its response; cutting it', { peer: `${socket.remoteAddress}:${socket.remotePort}`, stalledMs: Math.round(stalledMs) });
    });
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
      status: () => {
        const counts = this.admission.counts();
        return { listening: this.boundAddress(), inflight: counts.serving, internalInflight: counts.internalServing, receiving: counts.receiving, receivingBytes: counts.receivingBytes, streams: counts.streams, draining: this.draining };
      },
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
    this.server.on('connection', (socket: Socket) => {
      this.stalls.add(socket);
      closeInStages(socket, CLOSE_LINGER_MS);
    });
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
        this.names = namesOf(this.state.address, host);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Stops taking requests, lets the ones in flight finish (up to `drainTimeoutMs`; replication
   * streams are not waited for), then closes every connection. Afterwards nothing touches the store.
   */
  async drain(): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.admission.busy) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.limits.drainTimeoutMs);
      });
      const idle = new Promise<boolean>((resolve) => this.admission.whenIdle(() => resolve(false)));
      const late = await Promise.race([idle, timedOut]);
      clearTimeout(timer);
      if (late) this.log('warn', 'drain timed out; cutting connections', { ...this.admission.counts() });
    }
    this.stalls.stop();
    this.server.closeAllConnections();
    await closed;
  }

  /**
   * A request parsed: it starts once the requests before it on its connection have answered
   * (RFC 9112 §9.3.2); a connection with too many waiting is cut.
   */
  private onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const socket = req.socket;
    // Parsed after an answer that closed the connection (it lingers half-closed): never served.
    if (!socket.writable) return;
    if (this.order.enter(socket, () => this.serve(socket, req, res, expectContinue))) return;
    this.log('warn', 'a connection pipelined too many requests; cutting it', { peer: `${socket.remoteAddress}:${socket.remotePort}`, waitingMax: PIPELINED_REQUESTS_MAX });
    socket.destroy();
  }

  private serve(socket: Socket, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const startedMs = performance.now();
    const tag: RequestTag = { route: UNMATCHED_ROUTE };
    // Node-to-node requests have a pool of their own: clients at their limit must not cut a
    // node off from its peers (its lease, the metadata, Raft).
    const ticket = this.admission.ticket(accessOf(splitUrl(req.url ?? '/').path) === 'internal');
    // One listener for every job: a 'close' listener per request is not free at 30k requests/s.
    res.once('close', () => {
      ticket.release();
      this.order.leave(socket);
      this.finished(req, res, tag, startedMs);
    });
    const context = contextOf(this.state);
    const refusal = this.refusal(req, socket);
    if (refusal) {
      res.setHeader('Connection', 'close');
      return sendError(res, refusal, context);
    }
    handleRequest(this.api, req, res, expectContinue, tag, ticket).catch((error: unknown) => {
      // handleRequest answers every failure itself; reaching here is a bug in it.
      this.log('error', 'request handler rejected', errorFields(error));
      res.destroy();
    });
  }

  /** Why a request is refused before any route sees it, or undefined. */
  private refusal(req: IncomingMessage, socket: Socket): ClusterError | undefined {
    // HTTP/1.1 requires Host (RFC 9112 §3.2); Node's own refusal has no JSON body, so refuse here.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) return new ClusterError('BAD_REQUEST', 'an HTTP/1.1 request must carry a Host header');
    try {
      checkHostAndOrigin(req.headers.host, req.headers.origin, this.names, { address: socket.localAddress, port: socket.localPort });
    } catch (error) {
      return error as ClusterError;
    }
    if (this.draining) return new ClusterError('SHUTTING_DOWN', 'node is shutting down; retry on another node or later');
    return undefined;
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

  private boundAddress(): string | undefined {
    const address = this.server.address();
    if (!address || typeof address === 'string') return undefined;
    return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
  }
}

/** The names a Host may carry for a node configured at `address` and bound to `bindHost`. */
function namesOf(address: string, bindHost: string | undefined): NodeNames {
  const parsed = parseAddress(address);
  const bind = bindHost === undefined ? undefined : stripBrackets(bindHost);
  return {
    configuredHost: stripBrackets(parsed?.host ?? ''),
    configuredPort: parsed?.port ?? 0,
    bindHost: bind === undefined || WILDCARD_HOSTS.has(bind) ? undefined : bind,
  };
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
