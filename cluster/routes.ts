/**
 * The node's routes, in one table: for each route, its method, its path (a template: `{key}`
 * stands for a percent-encoded key), who may call it, and the query parameters it takes.
 * Everything else is derived from it: request.ts matches a request to a route and checks its
 * query; api.ts checks the credential and dispatches (its handler table must cover every
 * route, or it does not compile); metrics label requests with the template. docs/api.md
 * lists the same routes.
 *
 * Access: `public` needs nothing; `data` needs the token only under `auth = "all"`; `admin`
 * (operators, and diagnostics nodes also read) needs the token or the internal credential;
 * `internal` (node to node) needs the internal credential (api.ts `checkToken`).
 */

export type Access = 'public' | 'data' | 'internal' | 'admin';

export interface RouteSpec {
  readonly method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  readonly path: string;
  readonly access: Access;
  readonly params: readonly string[];
}

const WRITE_PARAMS = ['sync', 'acks'] as const;

export const ROUTES = {
  get: { method: 'GET', path: '/kv/{key}', access: 'data', params: ['read', 'min_seq'] },
  put: { method: 'PUT', path: '/kv/{key}', access: 'data', params: WRITE_PARAMS },
  delete: { method: 'DELETE', path: '/kv/{key}', access: 'data', params: WRITE_PARAMS },
  scan: { method: 'GET', path: '/kv', access: 'data', params: ['gt', 'gte', 'lt', 'lte', 'limit', 'encoding', 'read', 'min_seq'] },
  batch: { method: 'POST', path: '/batch', access: 'data', params: [...WRITE_PARAMS, 'read', 'min_seq'] },
  cluster: { method: 'GET', path: '/cluster', access: 'data', params: [] },
  healthz: { method: 'GET', path: '/healthz', access: 'public', params: [] },
  metrics: { method: 'GET', path: '/metrics', access: 'admin', params: [] },
  'internal-state': { method: 'GET', path: '/internal/state', access: 'admin', params: [] },
  'replication-stream': { method: 'GET', path: '/internal/replication/stream', access: 'internal', params: ['node', 'from', 'term', 'data_term'] },
  'replication-ack': { method: 'POST', path: '/internal/replication/ack', access: 'internal', params: [] },
  'raft-messages': { method: 'POST', path: '/internal/raft', access: 'internal', params: [] },
  'meta-watch': { method: 'GET', path: '/internal/meta', access: 'internal', params: ['after', 'wait_ms'] },
  'control-propose': { method: 'POST', path: '/internal/control/propose', access: 'internal', params: [] },
  'control-lease': { method: 'POST', path: '/internal/control/lease', access: 'internal', params: [] },
  'control-status': { method: 'GET', path: '/internal/control', access: 'admin', params: [] },
  'anti-entropy-digest': { method: 'POST', path: '/internal/anti-entropy/digest', access: 'internal', params: [] },
  'anti-entropy-hashes': { method: 'POST', path: '/internal/anti-entropy/hashes', access: 'internal', params: [] },
  promote: { method: 'POST', path: '/admin/promote', access: 'admin', params: ['unclean'] },
  transfer: { method: 'POST', path: '/admin/transfer', access: 'admin', params: ['to'] },
  'anti-entropy-run': { method: 'POST', path: '/admin/anti-entropy', access: 'admin', params: [] },
  'migration-stream': { method: 'GET', path: '/internal/migration/stream', access: 'internal', params: ['id', 'receiver', 'from'] },
  'shard-add': { method: 'POST', path: '/admin/shard/add', access: 'admin', params: [] },
  'shard-remove': { method: 'POST', path: '/admin/shard/remove', access: 'admin', params: [] },
  // The dashboard: its page and files hold no data (public); the data comes from the admin routes below.
  'dashboard-page': { method: 'GET', path: '/', access: 'public', params: [] },
  'dashboard-script': { method: 'GET', path: '/dashboard.js', access: 'public', params: [] },
  'dashboard-style': { method: 'GET', path: '/dashboard.css', access: 'public', params: [] },
  events: { method: 'GET', path: '/admin/events', access: 'admin', params: ['after', 'limit', 'source'] },
  overview: { method: 'GET', path: '/admin/overview', access: 'admin', params: [] },
} as const satisfies Record<string, RouteSpec>;

export type RouteKind = keyof typeof ROUTES;

/** The path template a route matches; `{key}` matches one non-empty tail. */
export const KEY_PATH_PREFIX = '/kv/';

/** The template of `path`: itself, or `/kv/{key}` for a key path. */
export function templateOf(path: string): string {
  return path.startsWith(KEY_PATH_PREFIX) ? '/kv/{key}' : path;
}

/** Every route at one path template, by method. */
const BY_TEMPLATE: ReadonlyMap<string, ReadonlyMap<string, RouteKind>> = (() => {
  const map = new Map<string, Map<string, RouteKind>>();
  for (const [kind, spec] of Object.entries(ROUTES) as [RouteKind, RouteSpec][]) {
    let methods = map.get(spec.path);
    if (!methods) map.set(spec.path, (methods = new Map()));
    methods.set(spec.method, kind);
  }
  return map;
})();

/** The routes at `template` by method, or undefined if no route has that path. */
export function routesAt(template: string): ReadonlyMap<string, RouteKind> | undefined {
  return BY_TEMPLATE.get(template);
}

/** First path segments under which every route is internal or admin (`/internal/`, `/admin/`). */
const PROTECTED_PREFIXES: readonly string[] = [...new Set(
  Object.values(ROUTES).filter((spec) => spec.access === 'internal' || spec.access === 'admin').map((spec) => `/${spec.path.split('/')[1]}/`),
)].filter((prefix) => Object.values(ROUTES).every((spec) => !spec.path.startsWith(prefix) || spec.access === 'internal' || spec.access === 'admin'));

/**
 * Who may call `path`, decided from the path alone, before parsing, so that a refused caller
 * learns nothing about which routes exist: an unknown path under a protected prefix is as
 * protected as the routes there.
 */
export function accessOf(path: string): Access | undefined {
  const methods = BY_TEMPLATE.get(templateOf(path));
  if (methods) return ROUTES[methods.values().next().value!].access;
  const prefix = PROTECTED_PREFIXES.find((p) => path.startsWith(p) || path === p.slice(0, -1));
  return prefix ? 'internal' : undefined;
}
