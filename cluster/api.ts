/**
 * The HTTP API's request handler: parse the request (request.ts), check the token, ask
 * routing.ts what to do, and carry that out against the store. No routing rules live here.
 *
 * Concurrency: requests interleave at every `await` (body reads, engine calls). Each request
 * reads the NodeState once, at its start, and uses that one snapshot throughout, so a role or
 * epoch change (setState) never splits a request between two views. The store orders writes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerMatches } from './auth.ts';
import { decodeBatch } from './batch-codec.ts';
import { hasUnreadBody, readBody } from './body.ts';
import type { AuthScope } from './config.ts';
import { ClusterError } from './errors.ts';
import { describeError, sendBytes, sendError, sendJson, sendNoContent, sendRedirect, type ResponseContext } from './http-response.ts';
import type { Limits } from './limits.ts';
import { errorFields, type Log } from './log.ts';
import type { NodeState } from './node-state.ts';
import { isProtectedPath, parseRoute, splitUrl, type Route } from './request.ts';
import { decide, type Decision, type RoutingRequest } from './routing.ts';
import { encodeScanPage } from './scan-codec.ts';
import type { Store } from './store.ts';

export interface ApiOptions {
  store: Store;
  limits: Readonly<Limits>;
  token: string | undefined;
  authScope: AuthScope;
  log: Log;
  /** The current NodeState; read once per request. */
  state(): NodeState;
  /** Facts about the listening socket for /internal/state. */
  status(): Record<string, unknown>;
}

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: string;
  state: NodeState;
  context: ResponseContext;
  /** The client sent `Expect: 100-continue` and waits for it before sending the body. */
  expectContinue: boolean;
}

/** Serves one request; never rejects (every failure becomes a JSON error response). */
export async function handleRequest(api: ApiOptions, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
  const state = api.state();
  const context = { shard: state.shard.name, epoch: state.topology.epoch };
  const url = req.url ?? '/';
  const ex: Exchange = { req, res, url, state, context, expectContinue };
  try {
    checkToken(api, splitUrl(url).path, req.headers.authorization);
    const route = parseRoute(req.method ?? '', url, api.limits);
    await serve(api, ex, route);
  } catch (error) {
    failed(api, ex, error);
  }
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

function checkToken(api: ApiOptions, path: string, header: string | undefined): void {
  if (api.token === undefined) return;
  const needed = isProtectedPath(path) || (api.authScope === 'all' && path !== '/healthz');
  if (needed && !bearerMatches(header, api.token)) {
    throw new ClusterError('UNAUTHORIZED', 'this route needs "Authorization: Bearer <token>" with the cluster token');
  }
}

async function serve(api: ApiOptions, ex: Exchange, route: Route): Promise<void> {
  const { res, state, context } = ex;
  switch (route.kind) {
    case 'healthz':
      return sendJson(res, 200, { status: 'ok', node: state.address, shard: state.shard.name, role: state.role, epoch: state.topology.epoch }, context);
    case 'cluster':
      return sendJson(res, 200, state.topology.toJson(), context);
    case 'internal-state':
      return sendJson(res, 200, { node: state.address, shard: state.shard.name, role: state.role, epoch: state.topology.epoch, lastSequence: api.store.lastSequence, ...api.status() }, context);
    case 'get':
      if (redirected(ex, { op: 'read', key: route.key, readReplica: route.readReplica, target: ex.url })) return;
      return serveGet(api, ex, route.key);
    case 'put': {
      if (redirected(ex, { op: 'write', key: route.key, target: ex.url })) return;
      const value = await body(ex, api.limits.valueBytesMax, 'VALUE_TOO_LARGE', 'value');
      return sendNoContent(res, await api.store.put(route.key, value, { sync: route.sync }), context);
    }
    case 'delete':
      if (redirected(ex, { op: 'write', key: route.key, target: ex.url })) return;
      return sendNoContent(res, await api.store.delete(route.key, { sync: route.sync }), context);
    case 'batch':
      return serveBatch(api, ex, route.sync);
    case 'scan':
      if (redirected(ex, { op: 'scan', readReplica: route.readReplica, target: ex.url })) return;
      return serveScan(api, ex, route);
  }
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

async function serveGet(api: ApiOptions, ex: Exchange, key: Uint8Array): Promise<void> {
  const value = await api.store.get(key);
  if (value === undefined) throw new ClusterError('KEY_NOT_FOUND', 'no such key');
  sendBytes(ex.res, 200, value, 'application/octet-stream', ex.context);
}

async function serveBatch(api: ApiOptions, ex: Exchange, sync: boolean): Promise<void> {
  // The keys are in the body, so it is read (under its limit) before routing can decide.
  const ops = decodeBatch(await body(ex, api.limits.batchBytesMax, 'BODY_TOO_LARGE', 'batch body'), api.limits);
  if (redirected(ex, { op: 'batch', keys: ops.map((op) => op.key), target: ex.url })) return;
  sendNoContent(ex.res, await api.store.batch(ops, { sync }), ex.context);
}

async function serveScan(api: ApiOptions, ex: Exchange, route: Extract<Route, { kind: 'scan' }>): Promise<void> {
  const entries: [Uint8Array, Uint8Array][] = [];
  let bytes = 0;
  let more = false;
  // One entry past the limit tells whether there is more without a second request.
  for await (const entry of api.store.iterator({ ...route.range, limit: route.limit + 1 })) {
    if (entries.length === route.limit || bytes >= api.limits.scanBytesMax) {
      more = true;
      break;
    }
    entries.push(entry);
    bytes += entry[0].length + entry[1].length;
  }
  sendBytes(ex.res, 200, encodeScanPage({ entries, more }, route.encoding), 'application/json', ex.context);
}

function body(ex: Exchange, bytesMax: number, tooLarge: 'VALUE_TOO_LARGE' | 'BODY_TOO_LARGE', what: string): Promise<Uint8Array> {
  if (ex.expectContinue && Number(ex.req.headers['content-length'] ?? 0) <= bytesMax) ex.res.writeContinue();
  return readBody(ex.req, bytesMax, tooLarge, what);
}
