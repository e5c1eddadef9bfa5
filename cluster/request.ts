/**
 * Turns a request's method and raw URL into a `Route`: which operation, on which key, with
 * which options. Every malformed input becomes a ClusterError with its code here, before any
 * routing or storage work. Pure.
 *
 * The body is not looked at here (PUT and POST /batch bodies are read by the handler, under
 * their size limits, only once routing has decided this node serves the request).
 */
import { canonicalAddress } from '../protocol/address.ts';
import { ClusterError, MethodNotAllowedError } from '../protocol/errors.ts';
import { KEY_BYTES_MAX, SCAN_ENTRIES_DEFAULT, type Limits } from '../protocol/limits.ts';
import { META_WAIT_MS_MAX } from './limits.ts';
import { percentDecode } from '../protocol/percent.ts';
import { KEY_PATH_PREFIX, ROUTES, routesAt, templateOf, type RouteKind } from './routes.ts';
import { parseAcks, type Acks } from '../protocol/replication-options.ts';

export type { Encoding } from '../protocol/scan-codec.ts';
import type { Encoding } from '../protocol/scan-codec.ts';

export interface ScanRange {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
}

/** How a write is to be made: `sync` for the leader's WAL, `acks` (undefined: the node's default) for confirmation. */
export interface WriteMode {
  sync: boolean;
  acks: Acks | undefined;
}

export type Route =
  | { kind: 'get'; key: Uint8Array; readReplica: boolean; minSeq: number | undefined }
  | ({ kind: 'put'; key: Uint8Array } & WriteMode)
  | ({ kind: 'delete'; key: Uint8Array } & WriteMode)
  | { kind: 'scan'; range: ScanRange; limit: number; encoding: Encoding; readReplica: boolean; minSeq: number | undefined }
  | ({ kind: 'batch'; readReplica: boolean; minSeq: number | undefined; readQuery: boolean; writeQuery: boolean } & WriteMode)
  | { kind: 'cluster' }
  | { kind: 'healthz' }
  | { kind: 'metrics' }
  | { kind: 'internal-state' }
  | { kind: 'replication-stream'; node: string; from: number; term: number; dataTerm: number }
  | { kind: 'replication-ack' }
  | { kind: 'raft-messages' }
  | { kind: 'meta-watch'; after: number; waitMs: number }
  | { kind: 'control-propose' }
  | { kind: 'control-lease' }
  | { kind: 'control-status' }
  | { kind: 'anti-entropy-digest' }
  | { kind: 'anti-entropy-hashes' }
  | { kind: 'promote'; unclean: boolean }
  | { kind: 'transfer'; to: string | undefined }
  | { kind: 'anti-entropy-run' }
  | { kind: 'migration-stream'; id: number; receiver: string; from: number }
  | { kind: 'shard-add' }
  | { kind: 'shard-remove' }
  | { kind: 'dashboard-page' }
  | { kind: 'dashboard-script' }
  | { kind: 'dashboard-style' }
  | { kind: 'events'; after: number; limit: number | undefined; source: 'cluster' | 'node' | undefined }
  | { kind: 'overview' };

/** Splits a raw request target into path and query (without the `?`). */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** What a route's builder gets: the decoded key (key routes only), the query's known parameters, the limits. */
interface RouteInput {
  key: Uint8Array | undefined;
  params: Map<string, string>;
  limits: Readonly<Limits>;
}

/** How each route's fields are read from its request; one per route of routes.ts, or this does not compile. */
const BUILDERS: { readonly [K in RouteKind]: (input: RouteInput) => Extract<Route, { kind: K }> } = {
  get: ({ key, params }) => ({ kind: 'get', key: key!, readReplica: readPreference(params), minSeq: sequenceParam(params, 'min_seq') }),
  put: ({ key, params }) => ({ kind: 'put', key: key!, ...writeMode(params) }),
  delete: ({ key, params }) => ({ kind: 'delete', key: key!, ...writeMode(params) }),
  scan: ({ params, limits }) => parseScan(params, limits),
  batch: ({ params }) => ({
    kind: 'batch',
    ...writeMode(params),
    readReplica: readPreference(params),
    minSeq: sequenceParam(params, 'min_seq'),
    // Which kind of batch the query was written for; the body decides the kind, and a mismatch is refused (api.ts).
    readQuery: params.has('read') || params.has('min_seq'),
    writeQuery: params.has('acks') || params.has('sync'),
  }),
  cluster: () => ({ kind: 'cluster' }),
  healthz: () => ({ kind: 'healthz' }),
  metrics: () => ({ kind: 'metrics' }),
  'internal-state': () => ({ kind: 'internal-state' }),
  'replication-stream': ({ params }) => parseStreamQuery(params),
  'replication-ack': () => ({ kind: 'replication-ack' }),
  'raft-messages': () => ({ kind: 'raft-messages' }),
  'meta-watch': ({ params }) => ({ kind: 'meta-watch', after: sequenceParam(params, 'after') ?? 0, waitMs: Math.min(sequenceParam(params, 'wait_ms') ?? 0, META_WAIT_MS_MAX) }),
  'control-propose': () => ({ kind: 'control-propose' }),
  'control-lease': () => ({ kind: 'control-lease' }),
  'control-status': () => ({ kind: 'control-status' }),
  'anti-entropy-digest': () => ({ kind: 'anti-entropy-digest' }),
  'anti-entropy-hashes': () => ({ kind: 'anti-entropy-hashes' }),
  promote: ({ params }) => ({ kind: 'promote', unclean: flag(params, 'unclean') }),
  transfer: ({ params }) => ({ kind: 'transfer', to: addressParam(params, 'to') }),
  'anti-entropy-run': () => ({ kind: 'anti-entropy-run' }),
  'migration-stream': ({ params }) => parseMigrationQuery(params),
  'shard-add': () => ({ kind: 'shard-add' }),
  'shard-remove': () => ({ kind: 'shard-remove' }),
  'dashboard-page': () => ({ kind: 'dashboard-page' }),
  'dashboard-script': () => ({ kind: 'dashboard-script' }),
  'dashboard-style': () => ({ kind: 'dashboard-style' }),
  events: ({ params }) => parseEventsQuery(params),
  overview: () => ({ kind: 'overview' }),
};

/**
 * Parses a request against the route table (routes.ts): the path picks the routes, the method
 * one of them (else 405 with the methods that exist), then the key and the query. Throws
 * ClusterError (BAD_*, EMPTY_KEY, KEY_TOO_LARGE, ROUTE_NOT_FOUND, METHOD_NOT_ALLOWED).
 */
export function parseRoute(method: string, url: string, limits: Readonly<Limits>): Route {
  const { path, query } = splitUrl(url);
  const template = templateOf(path);
  const methods = routesAt(template);
  if (!methods) throw new ClusterError('ROUTE_NOT_FOUND', `no route ${JSON.stringify(clip(path))}; see docs/api.md`);
  const kind = methods.get(method);
  if (!kind) throw new MethodNotAllowedError(method, template, [...methods.keys()]);
  const key = template === ROUTES.get.path ? parseKey(path.slice(KEY_PATH_PREFIX.length), 'key') : undefined;
  const params = parseQuery(query, ROUTES[kind].params);
  return BUILDERS[kind]({ key, params, limits });
}

function writeMode(params: Map<string, string>): WriteMode {
  const acksText = params.get('acks');
  const acks = acksText === undefined ? undefined : parseAcks(acksText);
  if (acksText !== undefined && acks === undefined) throw new ClusterError('BAD_QUERY', `acks must be 0, 1 or "all", got ${JSON.stringify(clip(acksText))}`);
  return { sync: flag(params, 'sync'), acks };
}

function parseStreamQuery(params: Map<string, string>): Extract<Route, { kind: 'replication-stream' }> {
  const node = params.get('node');
  if (node === undefined) throw new ClusterError('BAD_QUERY', 'node is required: the follower\'s host:port');
  const need = (name: string) => sequenceParam(params, name) ?? (() => {
    throw new ClusterError('BAD_QUERY', `${name} is required`);
  })();
  const address = canonicalAddress(new TextDecoder().decode(percentDecode(node, 'node')));
  if (!address) throw new ClusterError('BAD_QUERY', `node must be host:port, got ${JSON.stringify(clip(node))}`);
  return { kind: 'replication-stream', node: address, from: need('from'), term: need('term'), dataTerm: need('data_term') };
}

function parseMigrationQuery(params: Map<string, string>): Extract<Route, { kind: 'migration-stream' }> {
  const id = sequenceParam(params, 'id');
  const from = sequenceParam(params, 'from');
  const receiver = params.get('receiver');
  if (id === undefined || from === undefined || receiver === undefined) throw new ClusterError('BAD_QUERY', 'id, receiver and from are required: the migration, the receiving shard, the first sequence number it needs (0: a snapshot)');
  return { kind: 'migration-stream', id, from, receiver: new TextDecoder().decode(percentDecode(receiver, 'receiver')) };
}

function parseEventsQuery(params: Map<string, string>): Extract<Route, { kind: 'events' }> {
  const source = params.get('source');
  if (source !== undefined && source !== 'cluster' && source !== 'node') throw new ClusterError('BAD_QUERY', `source must be "cluster" or "node", got ${JSON.stringify(clip(source))}`);
  const limit = sequenceParam(params, 'limit');
  if (limit === 0) throw new ClusterError('BAD_QUERY', 'limit must be at least 1');
  return { kind: 'events', after: sequenceParam(params, 'after') ?? 0, limit, source };
}

/** A `host:port`-valued parameter (percent-decoded, canonical), or undefined if absent. */
function addressParam(params: Map<string, string>, name: string): string | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  const address = canonicalAddress(new TextDecoder().decode(percentDecode(text, name)));
  if (!address) throw new ClusterError('BAD_QUERY', `${name} must be host:port, got ${JSON.stringify(clip(text))}`);
  return address;
}

/** A sequence-number-valued parameter (a non-negative safe integer), or undefined if absent. */
function sequenceParam(params: Map<string, string>, name: string): number | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new ClusterError('BAD_QUERY', `${name} must be a non-negative integer, got ${JSON.stringify(clip(text))}`);
  }
  return Number(text);
}

/** Decodes a percent-encoded key and checks it is 1..KEY_BYTES_MAX bytes. */
export function parseKey(encoded: string, what: string): Uint8Array {
  if (encoded.length === 0) throw new ClusterError('EMPTY_KEY', `${what} is empty; keys are 1-${KEY_BYTES_MAX} bytes`);
  // Each byte takes at most three characters, so a longer string cannot decode to a legal key;
  // checking first bounds the decoding work.
  if (encoded.length > 3 * KEY_BYTES_MAX) throw keyTooLarge(what, `over ${KEY_BYTES_MAX}`);
  const key = percentDecode(encoded, what);
  if (key.length > KEY_BYTES_MAX) throw keyTooLarge(what, String(key.length));
  return key;
}

function keyTooLarge(what: string, size: string): ClusterError {
  return new ClusterError('KEY_TOO_LARGE', `${what} is ${size} bytes; keys are at most ${KEY_BYTES_MAX} bytes`);
}

function parseScan(params: Map<string, string>, limits: Readonly<Limits>): Extract<Route, { kind: 'scan' }> {
  const range: ScanRange = {};
  for (const bound of ['gt', 'gte', 'lt', 'lte'] as const) {
    const raw = params.get(bound);
    if (raw !== undefined) range[bound] = raw === '' ? new Uint8Array(0) : parseKey(raw, bound);
  }
  if (range.gt && range.gte) throw new ClusterError('BAD_QUERY', 'scan takes gt or gte, not both');
  if (range.lt && range.lte) throw new ClusterError('BAD_QUERY', 'scan takes lt or lte, not both');
  const limitText = params.get('limit');
  let limit = Math.min(SCAN_ENTRIES_DEFAULT, limits.scanEntriesMax);
  if (limitText !== undefined) {
    if (!/^[0-9]{1,9}$/.test(limitText) || Number(limitText) < 1) {
      throw new ClusterError('BAD_QUERY', `limit must be a positive integer, got ${JSON.stringify(clip(limitText))}`);
    }
    // Capped rather than refused: the page says `more: true` and the caller continues.
    limit = Math.min(Number(limitText), limits.scanEntriesMax);
  }
  const encoding = params.get('encoding') ?? 'utf8';
  if (encoding !== 'utf8' && encoding !== 'base64') {
    throw new ClusterError('BAD_QUERY', `encoding must be "utf8" or "base64", got ${JSON.stringify(clip(encoding))}`);
  }
  return { kind: 'scan', range, limit, encoding, readReplica: readPreference(params), minSeq: sequenceParam(params, 'min_seq') };
}

/** Parses `a=1&b=2`; unknown or repeated names are BAD_QUERY. Values stay percent-encoded. */
export function parseQuery(query: string, known: readonly string[]): Map<string, string> {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (!known.includes(name)) {
      const hint = known.length ? `; known: ${known.join(', ')}` : '; this route takes none';
      throw new ClusterError('BAD_QUERY', `unknown query parameter ${JSON.stringify(clip(name))}${hint}`);
    }
    if (params.has(name)) throw new ClusterError('BAD_QUERY', `query parameter ${JSON.stringify(name)} is given twice`);
    params.set(name, value);
  }
  return params;
}

function readPreference(params: Map<string, string>): boolean {
  const read = params.get('read');
  if (read === undefined || read === 'leader') return false;
  if (read === 'replica') return true;
  throw new ClusterError('BAD_QUERY', `read must be "leader" or "replica", got ${JSON.stringify(clip(read))}`);
}

function flag(params: Map<string, string>, name: string): boolean {
  const value = params.get(name);
  if (value === undefined || value === 'false') return false;
  if (value === 'true' || value === '') return true;
  throw new ClusterError('BAD_QUERY', `${name} must be "true" or "false", got ${JSON.stringify(clip(value))}`);
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
