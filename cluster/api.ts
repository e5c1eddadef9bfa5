/**
 * The HTTP API's request handler: parse the request (request.ts), check the token, give it
 * its place in the server's pools (admission.ts) and its body's bounds, ask routing.ts what
 * to do, and carry that out against the store. No routing rules live here.
 *
 * Concurrency: requests interleave at every `await` (body reads, engine calls). Each request
 * reads the NodeState once, at its start, and uses that one snapshot throughout, so a role or
 * epoch change (setState) never splits a request between two views. The store orders writes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Ticket } from './admission.ts';
import type { Snapshot } from '../engine/index.ts';
import { bearerMatches } from './auth.ts';
import { CONTROL_HANDLERS } from './api-control.ts';
import { DASHBOARD_HANDLERS } from './api-dashboard.ts';
import { MIGRATION_HANDLERS } from './api-migration.ts';
import { healthBody, stateBody } from './node-status.ts';
import { REPLICATION_HANDLERS } from './api-replication.ts';
import { batchShape, decodeBatch } from '../protocol/batch-codec.ts';
import { BINARY_BATCH_MEDIA_TYPE, decodeBinaryBatch, encodeBinaryMultiGet, mediaType } from '../protocol/batch-binary.ts';
import { declaresBody, hasUnreadBody, type BodyLimits } from './body.ts';
import { body, type Exchange } from './exchange.ts';
import { ClusterError } from '../protocol/errors.ts';
import { contextOf, describeError, sendAccepted, sendBytes, sendError, sendJson, sendNoContent, sendRedirect } from './http-response.ts';
import { INTERNAL_JSON_DEPTH_MAX, INTERNAL_JSON_STRUCTURE_MAX } from './limits.ts';
import { errorFields } from './log.ts';
import { parseRoute, splitUrl, type Route, type WriteMode } from './request.ts';
export type { ApiOptions, RequestTag } from './handler.ts';
import { accessOf, ROUTES, type RouteKind } from './routes.ts';
import { decide, targetOf, type Decision, type RoutingRequest } from './routing.ts';
import { encodeScanPage } from '../protocol/scan-codec.ts';
import type { Limits } from '../protocol/limits.ts';
import { encodeMultiGet } from '../protocol/multi-get-codec.ts';
import { readMultiGet } from './multi-get.ts';
import type { ApiOptions, Handler, RequestTag } from './handler.ts';

/** Serves one request; never rejects (every failure becomes a JSON error response). */
export async function handleRequest(api: ApiOptions, req: IncomingMessage, res: ServerResponse, expectContinue: boolean, tag: RequestTag, ticket: Ticket): Promise<void> {
  const state = api.state();
  const context = contextOf(state);
  const url = req.url ?? '/';
  const { path, query } = splitUrl(url);
  const ex: Exchange = { req, res, url, query, state, context, expectContinue, ticket, json: undefined };
  try {
    checkToken(api, path, req.headers.authorization);
    const route = parseRoute(req.method ?? '', url, api.limits);
    tag.route = ROUTES[route.kind].path;
    admit(api.limits, ex, route);
    await (HANDLERS[route.kind] as Handler<RouteKind>)(api, ex, route);
  } catch (error) {
    failed(api, ex, error);
  }
}

/**
 * What each route's body is: none, bytes taken as they come (a value; Raft messages, which
 * their codec bounds itself), a batch, or an internal or admin route's JSON object. Total over
 * the route table, so a new route does not compile until its body is decided here.
 */
type BodyKind = 'none' | 'bytes' | 'batch' | 'json';
const BODIES: { readonly [K in RouteKind]: BodyKind } = {
  get: 'none', put: 'bytes', delete: 'none', scan: 'none', batch: 'batch', cluster: 'none', healthz: 'none', metrics: 'none',
  'internal-state': 'none', 'replication-stream': 'none', 'replication-ack': 'json', 'raft-messages': 'bytes', 'meta-watch': 'none',
  'control-propose': 'json', 'control-lease': 'json', 'control-status': 'none', 'anti-entropy-digest': 'json', 'anti-entropy-hashes': 'json',
  promote: 'none', transfer: 'none', 'anti-entropy-run': 'none', 'migration-stream': 'none', 'shard-add': 'json', 'shard-remove': 'json',
  'dashboard-page': 'none', 'dashboard-script': 'none', 'dashboard-style': 'none', overview: 'none', events: 'none',
};

/**
 * Gives the request its place in the server's pools (admission.ts): none for /healthz, a
 * stream place for a replication stream, a receiving place while a body arrives, else a
 * serving slot. A JSON body must say so in its Content-Type (a web page cannot send one
 * without the browser asking first, which this node never approves) and gets its shape bound;
 * a batch may instead be binary (application/octet-stream, which a page cannot send without
 * asking either).
 */
function admit(limits: Readonly<Limits>, ex: Exchange, route: Route): void {
  if (route.kind === 'healthz') return;
  if (route.kind === 'replication-stream') return ex.ticket.stream(route.node, ex.res);
  const kind = BODIES[route.kind];
  const hasBody = kind !== 'none' && declaresBody(ex.req);
  // A binary batch bounds itself (its count is checked before its operations are read).
  if (hasBody && kind !== 'bytes' && !(kind === 'batch' && isBinaryBatch(ex.req))) {
    requireJson(ex.req, ROUTES[route.kind], kind === 'batch' ? ` or ${BINARY_BATCH_MEDIA_TYPE}` : '');
    ex.json = jsonShapeOf(kind, limits);
  }
  if (hasBody) ex.ticket.receive();
  else ex.ticket.serve();
}

function requireJson(req: IncomingMessage, spec: { method: string; path: string }, orElse: string): void {
  const type = req.headers['content-type'];
  if (mediaTypeOf(req) === 'application/json') return;
  throw new ClusterError('UNSUPPORTED_MEDIA_TYPE', `${spec.method} ${spec.path} takes Content-Type: application/json${orElse}, got ${type === undefined ? 'none' : JSON.stringify(type.slice(0, 100))}`);
}

function mediaTypeOf(req: IncomingMessage): string | undefined {
  return mediaType(req.headers['content-type']);
}

/** A POST /batch body in binary (protocol/batch-binary.ts) rather than JSON. */
function isBinaryBatch(req: IncomingMessage): boolean {
  return mediaTypeOf(req) === BINARY_BATCH_MEDIA_TYPE;
}

function jsonShapeOf(kind: 'batch' | 'json', limits: Readonly<Limits>): BodyLimits['json'] {
  if (kind === 'batch') return { shape: batchShape(limits), tooComplex: 'BAD_BATCH', hint: `; a batch holds at most ${limits.batchOpsMax} operations (batch_ops_max)` };
  return { shape: { structureMax: INTERNAL_JSON_STRUCTURE_MAX, depthMax: INTERNAL_JSON_DEPTH_MAX }, tooComplex: 'BODY_TOO_COMPLEX', hint: '' };
}

function failed(api: ApiOptions, ex: Exchange, error: unknown): void {
  const { code } = describeError(error);
  if (code === 'INTERNAL' || code === 'CORRUPTION' || code === 'IO_ERROR') {
    api.log('error', 'request failed', { method: ex.req.method, url: ex.url.slice(0, 200), ...errorFields(error) });
  }
  if (ex.res.headersSent) {
    ex.res.destroy();
    return;
  }
  // An unread body would otherwise be drained from the socket, however large; closing is cheaper.
  if (hasUnreadBody(ex.req)) ex.res.setHeader('Connection', 'close');
  sendError(ex.res, error, ex.context);
}

/**
 * Who may call what (docs/security.md): /internal/ routes only the nodes, with the internal
 * credential; admin routes the operators' token or a node's credential; data routes anyone, or
 * the token under `auth = "all"`. An unset credential opens its routes (a one-machine cluster:
 * node.ts refuses to listen beyond loopback without one).
 */
function checkToken(api: ApiOptions, path: string, header: string | undefined): void {
  const access = accessOf(path);
  if (access === 'internal') {
    if (api.internalToken !== undefined && !bearerMatches(header, api.internalToken)) {
      throw new ClusterError('UNAUTHORIZED', 'this route is for the cluster\'s nodes: it needs "Authorization: Bearer <internal token>"');
    }
    return;
  }
  const needed = access === 'admin' || (api.authScope === 'all' && access !== 'public');
  if (!needed || api.token === undefined) return;
  const admitted = bearerMatches(header, api.token) || (access === 'admin' && api.internalToken !== undefined && bearerMatches(header, api.internalToken));
  if (!admitted) throw new ClusterError('UNAUTHORIZED', 'this route needs "Authorization: Bearer <token>" with the cluster token');
}

/** One handler per route of routes.ts; a route without one does not compile. */
const HANDLERS: { readonly [K in RouteKind]: Handler<K> } = {
  healthz: (api, { res, context }) => sendJson(res, 200, healthBody(api), context),
  cluster: (_api, { res, state, context }) => sendJson(res, 200, state.topology.toJson(), context),
  metrics: async (api, { res, context }) => sendBytes(res, 200, Buffer.from(await api.metrics.render()), api.metrics.contentType, context),
  'internal-state': (api, { res, context }) => sendJson(res, 200, stateBody(api), context),
  get: async (api, ex, route) => {
    const routing: RoutingRequest = { op: 'read', key: route.key, readReplica: route.readReplica, query: ex.query };
    if (redirected(ex, routing)) return;
    if (!(await caughtUp(api, ex, route.minSeq, routing))) return;
    return serveGet(api, ex, route.key);
  },
  put: async (api, ex, route) => {
    if (redirected(ex, { op: 'write', key: route.key, query: ex.query })) return;
    api.replication.checkWrite(acksOf(api, route));
    const value = await body(ex, api.limits.valueBytesMax, 'VALUE_TOO_LARGE', 'value');
    return write(api, ex, route, () => api.store.put(route.key, value, { sync: route.sync }));
  },
  delete: (api, ex, route) => {
    if (redirected(ex, { op: 'write', key: route.key, query: ex.query })) return;
    return write(api, ex, route, () => api.store.delete(route.key, { sync: route.sync }));
  },
  batch: (api, ex, route) => serveBatch(api, ex, route),
  scan: async (api, ex, route) => {
    const routing: RoutingRequest = { op: 'scan', readReplica: route.readReplica, query: ex.query };
    if (redirected(ex, routing)) return;
    if (!(await caughtUp(api, ex, route.minSeq, routing))) return;
    return serveScan(api, ex, route);
  },
  ...REPLICATION_HANDLERS,
  ...CONTROL_HANDLERS,
  ...MIGRATION_HANDLERS,
  ...DASHBOARD_HANDLERS,
};

function acksOf(api: ApiOptions, mode: WriteMode) {
  return mode.acks ?? api.replication.acksDefault;
}

/**
 * Makes a write and answers once it is confirmed as `acks` asks: 0, at once with 202 (no
 * X-Seq: the write is only queued); 1, once in the leader's log; all, once every in-sync
 * follower applied it. An acks=all write is refused before it is made if too few followers
 * are in sync (NOT_ENOUGH_REPLICAS).
 */
async function write(api: ApiOptions, ex: Exchange, mode: WriteMode, start: () => Promise<number>): Promise<void> {
  const acks = acksOf(api, mode);
  api.replication.checkWrite(acks);
  if (acks === 0) {
    api.writes.run(start).catch((error: unknown) => api.log('error', 'an acks=0 write failed after its 202', { url: ex.url.slice(0, 200), ...errorFields(error) }));
    return sendAccepted(ex.res, ex.context);
  }
  const seq = await api.writes.run(start);
  await api.replication.confirmWrite(seq, acks);
  sendNoContent(ex.res, seq, ex.context);
}

/**
 * A replica read with `min_seq`: true once this node has applied it (a leader always has);
 * after `replica_read_wait_ms_max` without it, answers 307 to the leader and returns false.
 */
async function caughtUp(api: ApiOptions, ex: Exchange, minSeq: number | undefined, routing: RoutingRequest): Promise<boolean> {
  if (minSeq === undefined || (await api.replication.waitApplied(minSeq))) return true;
  const now = api.state();
  if (!now.shard) throw new ClusterError('WRONG_SHARD', `${now.address} holds no shard any more`);
  sendRedirect(ex.res, 307, `http://${now.shard.leader}${targetOf(routing)}`, now.shard.name, ex.context);
  return false;
}

/** Carries out a non-serve decision; true if the request is answered. */
function redirected(ex: Exchange, request: RoutingRequest): boolean {
  const decision: Decision = decide(ex.state, request);
  if (decision.kind === 'serve') return false;
  if (decision.kind === 'error') throw decision.error;
  if (hasUnreadBody(ex.req)) ex.res.setHeader('Connection', 'close');
  sendRedirect(ex.res, decision.status, decision.location, decision.shard, ex.context);
  return true;
}

/** A leader reads linearizably (controller.ts `leaderRead`); a replica serving read=replica reads its own data. */
function readOn<T>(api: ApiOptions, ex: Exchange, read: (snapshot: Snapshot | undefined) => Promise<T>): Promise<T> {
  return ex.state.role === 'leader' ? api.replication.leaderRead((snapshot) => read(snapshot)) : read(undefined);
}

async function serveGet(api: ApiOptions, ex: Exchange, key: Uint8Array): Promise<void> {
  const value = await readOn(api, ex, (snapshot) => api.store.get(key, snapshot && { snapshot }));
  if (value === undefined) throw new ClusterError('KEY_NOT_FOUND', 'no such key');
  sendBytes(ex.res, 200, value, 'application/octet-stream', ex.context);
}

async function serveBatch(api: ApiOptions, ex: Exchange, route: Extract<Route, { kind: 'batch' }>): Promise<void> {
  // The keys are in the body, so it is read (under its limit) before routing can decide.
  const bytes = await body(ex, api.limits.batchBytesMax, 'BODY_TOO_LARGE', 'batch body');
  const batch = isBinaryBatch(ex.req) ? decodeBinaryBatch(bytes, api.limits) : decodeBatch(bytes, api.limits);
  if (batch.kind === 'write') {
    if (route.readQuery) throw new ClusterError('BAD_QUERY', 'read= and min_seq= apply to a batch of gets; this batch writes');
    if (redirected(ex, { op: 'batch', keys: batch.ops.map((op) => op.key), query: ex.query })) return;
    return write(api, ex, route, () => api.store.batch(batch.ops, { sync: route.sync }));
  }
  if (route.writeQuery) throw new ClusterError('BAD_QUERY', 'acks= and sync= apply to a batch of writes; this batch is all gets');
  const routing: RoutingRequest = { op: 'batch', keys: batch.keys, readReplica: route.readReplica, query: ex.query };
  if (redirected(ex, routing)) return;
  if (!(await caughtUp(api, ex, route.minSeq, routing))) return;
  // The answer's format is the request body's (binary or JSON); Accept is not consulted (docs/api.md).
  // One snapshot for every key: the values are those of one point in the shard's log.
  const values = await readOn(api, ex, (snapshot) => readMultiGet(batch.keys, (keys) => api.store.getMany(keys, snapshot && { snapshot }), api.limits.batchBytesMax));
  if (batch.answer === 'binary') return sendBytes(ex.res, 200, encodeBinaryMultiGet(values), BINARY_BATCH_MEDIA_TYPE, ex.context);
  sendBytes(ex.res, 200, encodeMultiGet(values, batch.answer), 'application/json', ex.context);
}

async function serveScan(api: ApiOptions, ex: Exchange, route: Extract<Route, { kind: 'scan' }>): Promise<void> {
  const entries: [Uint8Array, Uint8Array][] = [];
  let bytes = 0;
  let more = false;
  await readOn(api, ex, async (snapshot) => {
    // One entry past the limit tells whether there is more without a second request.
    // Keys this shard does not own (a migration's copies, before or after it) are not shown.
    const mine = ex.state.shard?.name;
    for await (const entry of api.store.iterator({ ...route.range, ...(snapshot && { snapshot }) })) {
      if (ex.state.topology.ownerOf(entry[0]).shard !== mine) continue;
      if (entries.length === route.limit || bytes >= api.limits.scanBytesMax) {
        more = true;
        break;
      }
      entries.push(entry);
      bytes += entry[0].length + entry[1].length;
    }
  });
  sendBytes(ex.res, 200, encodeScanPage({ entries, more }, route.encoding), 'application/json', ex.context);
}
