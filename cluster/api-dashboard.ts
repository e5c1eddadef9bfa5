/**
 * The HTTP side of the operator's dashboard (docs/operations.md, "The dashboard"):
 *
 *   GET /                 the page (cluster/dashboard/index.html); public: it holds no data
 *   GET /dashboard.js     its script, plain JavaScript with no dependencies
 *   GET /dashboard.css    its style
 *   GET /admin/events     this node's recent events (events.ts); ?after=ID&limit=N&source=cluster|node
 *   GET /admin/overview   every node's health, state and recent log lines, asked by this node, and
 *                         the cluster's changes as this node adopted them (admin)
 *
 * Why the serving node asks the others: the page may fetch only from where it came (no
 * cross-origin requests, so no CORS to open on any node), and one request per refresh keeps the
 * page simple. Each node is asked with the internal credential and a timeout; one that does not
 * answer is shown with the reason (refused, timeout, 401), never waited for beyond it.
 *
 * The page's files are read from disk once, at their first request. They are sent with a
 * Content-Security-Policy that lets the page load and fetch only from this node.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { ConnectionError, unreachableReason } from '../net/errors.ts';
import type { NodeEvent } from './events.ts';
import type { ApiOptions, Handler } from './handler.ts';
import { sendJson } from './http-response.ts';
import { OVERVIEW_EVENTS_MAX, OVERVIEW_NODE_TIMEOUT_MS } from './limits.ts';
import { healthBody, stateBody } from './node-status.ts';
import { describeAnswer } from './peers.ts';
import type { RouteKind } from './routes.ts';

type DashboardRouteKind = Extract<RouteKind, 'dashboard-page' | 'dashboard-script' | 'dashboard-style' | 'events' | 'overview'>;

const DASHBOARD_DIR = new URL('./dashboard/', import.meta.url);
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};
const files = new Map<string, Promise<Buffer>>();

export const DASHBOARD_HANDLERS: { readonly [K in DashboardRouteKind]: Handler<K> } = {
  'dashboard-page': (_api, ex) => sendFile(ex.res, 'index.html', 'text/html; charset=utf-8'),
  'dashboard-script': (_api, ex) => sendFile(ex.res, 'dashboard.js', 'text/javascript; charset=utf-8'),
  'dashboard-style': (_api, ex) => sendFile(ex.res, 'dashboard.css', 'text/css; charset=utf-8'),
  events: (api, { res, context }, route) => {
    const events = api.events.list(route.after).filter((e) => route.source === undefined || e.source === route.source);
    sendJson(res, 200, { node: api.state().address, events: route.limit === undefined ? events : events.slice(-route.limit) }, context);
  },
  overview: async (api, { res, context }) => sendJson(res, 200, await overview(api), context),
};

async function sendFile(res: ServerResponse, name: string, contentType: string): Promise<void> {
  let read = files.get(name);
  if (!read) {
    read = readFile(new URL(name, DASHBOARD_DIR));
    files.set(name, read);
    // A failed read (a broken install) is tried again at the next request.
    read.catch(() => files.delete(name));
  }
  const bytes = await read;
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': contentType, 'Content-Length': bytes.length });
  res.end(bytes);
}

/** One node as the overview shows it: what it said about itself, or why it did not answer. */
interface NodeView {
  address: string;
  health: Record<string, unknown> | null;
  state: Record<string, unknown> | null;
  /** Why `health` or `state` is missing: `refused`, `timeout`, `401 UNAUTHORIZED …`. */
  error: string | null;
}

async function overview(api: ApiOptions): Promise<Record<string, unknown>> {
  const self = api.state().address;
  const metadata = api.metadata();
  const addresses = [...new Set([...metadata.shards.flatMap((s) => s.members), ...api.controllers, ...metadata.unassigned, self])];
  const views = await Promise.all(addresses.map((address) => (address === self ? selfView(api) : ask(api, address))));
  return {
    servedBy: self,
    timeMs: Date.now(),
    metadata,
    controllers: api.controllers,
    nodes: views.map((v) => v.view),
    events: mergeEvents(views.flatMap((v) => v.events.map((e) => ({ ...e, node: v.view.address })))),
  };
}

function selfView(api: ApiOptions): { view: NodeView; events: NodeEvent[] } {
  return { view: { address: api.state().address, health: healthBody(api), state: stateBody(api), error: null }, events: api.events.list().slice(-OVERVIEW_EVENTS_MAX) };
}

async function ask(api: ApiOptions, address: string): Promise<{ view: NodeView; events: NodeEvent[] }> {
  const get = async (path: string): Promise<{ json: Record<string, unknown> | null; error: string | null }> => {
    try {
      const answer = await api.peers.call(address, 'GET', path, { timeoutMs: OVERVIEW_NODE_TIMEOUT_MS });
      if (answer.status === 200 && answer.json && typeof answer.json === 'object') return { json: answer.json as Record<string, unknown>, error: null };
      return { json: null, error: describeAnswer(answer) };
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      return { json: null, error: unreachableReason(error) };
    }
  };
  const [health, state, events] = await Promise.all([get('/healthz'), get('/internal/state'), get(`/admin/events?source=node&limit=${OVERVIEW_EVENTS_MAX}`)]);
  const list = (events.json?.['events'] as NodeEvent[] | undefined) ?? [];
  return { view: { address, health: health.json, state: state.json, error: health.error ?? state.error }, events: Array.isArray(list) ? list : [] };
}

/**
 * The cluster's changes as the serving node adopted them (every node records the same ones, but
 * one that skipped versions words them differently, so only one node's list is shown) and every
 * node's own log lines; newest first, at most OVERVIEW_EVENTS_MAX.
 */
function mergeEvents(events: (NodeEvent & { node: string })[]): (NodeEvent & { node: string })[] {
  return [...events].sort((a, b) => b.timeMs - a.timeMs || b.id - a.id).slice(0, OVERVIEW_EVENTS_MAX);
}
