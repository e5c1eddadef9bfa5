/**
 * cluster.toml: the cluster's shape (shards, their leaders and replicas), the ring's
 * parameters, the credentials and the operator-settable limits. Parsed with smol-toml and
 * validated once, here, with errors that name the file and the field and quote the value.
 *
 * Pure: text in, a frozen `ClusterConfig` out, or a ClusterError with code CONFIG_INVALID.
 * Reading the file is load-config.ts's job.
 *
 * Shape:
 *   [cluster]  vnodes = 128, controllers = ["host:port", …], token = "…", internal_token = "…", auth = "internal" | "all"
 *   [limits]   value_bytes_max, batch_bytes_max, batch_ops_max, scan_entries_max,
 *              scan_bytes_max, inflight_requests_max, request_timeout_ms, drain_timeout_ms
 *   [replication] acks, min_insync, replica_lag_max_ms, … (see replication-options.ts)
 *   [control]  tick_ms, election_ticks, heartbeat_ticks, lease_ms, lease_renew_ms, clock_drift_percent (control-options.ts)
 *   [[shards]] name = "shard-0", leader = "127.0.0.1:7001", replicas = ["127.0.0.1:7101"]
 * Unknown keys are errors, because a misspelt limit silently left at its default is worse.
 */
import { parse, TomlError } from 'smol-toml';
import { canonicalAddress } from './address.ts';
import { configError } from './errors.ts';
import {
  DEFAULT_LIMITS, LIMIT_RANGES, REPLICAS_PER_SHARD_MAX, SHARDS_MAX, TOKEN_BYTES_MAX, TOKEN_BYTES_MIN,
  VNODES_DEFAULT, VNODES_MAX, VNODES_MIN, type Limits,
} from './limits.ts';
import { CONTROL_KEYS, CONTROL_RANGES, controlProblems, DEFAULT_CONTROL, type ControlOptions } from './control-options.ts';
import { DEFAULT_REPLICATION, parseAcks, REPLICATION_KEYS, REPLICATION_RANGES, type ReplicationOptions } from './replication-options.ts';

export interface ShardConfig {
  readonly name: string;
  /** Canonical `host:port`. */
  readonly leader: string;
  readonly replicas: readonly string[];
}

/** Which endpoints demand the token: only /internal/ and /admin/, or every route but /healthz. */
export type AuthScope = 'internal' | 'all';

export interface ClusterConfig {
  /** Where the config came from, for messages. */
  readonly source: string;
  readonly vnodes: number;
  /**
   * The nodes that run the control plane's Raft group (1, 3 or 5). Without `controllers` in the
   * file: the shards' leaders in file order, then their replicas, up to 3 (1 with fewer than 3 nodes).
   */
  readonly controllers: readonly string[];
  /** The operators' (and, under `auth = "all"`, the clients') credential: admin routes, and data routes under "all". */
  readonly token: string | undefined;
  /**
   * The nodes' credential for /internal/ routes (replication streams, Raft, metadata, leases),
   * held by nodes only. Unset: the token opens them too (one credential, fine when clients hold
   * none: `auth = "internal"`).
   */
  readonly internalToken: string | undefined;
  readonly authScope: AuthScope;
  readonly limits: Readonly<Limits>;
  readonly replication: Readonly<ReplicationOptions>;
  readonly control: Readonly<ControlOptions>;
  readonly shards: readonly ShardConfig[];
}

export interface ParseConfigOptions {
  /** File name used in messages. */
  source: string;
  /** DISTRIBKV_TOKEN from the environment; wins over the file's token so secrets can stay out of it. */
  envToken?: string | undefined;
  /** DISTRIBKV_INTERNAL_TOKEN from the environment; wins over the file's internal_token. */
  envInternalToken?: string | undefined;
}

const SHARD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const LIMIT_KEYS: Record<string, keyof Limits> = {
  value_bytes_max: 'valueBytesMax',
  batch_bytes_max: 'batchBytesMax',
  batch_ops_max: 'batchOpsMax',
  scan_entries_max: 'scanEntriesMax',
  scan_bytes_max: 'scanBytesMax',
  inflight_requests_max: 'inflightRequestsMax',
  request_timeout_ms: 'requestTimeoutMs',
  drain_timeout_ms: 'drainTimeoutMs',
};

/** Parses and validates cluster.toml text. Throws ClusterError CONFIG_INVALID. */
export function parseConfig(text: string, options: ParseConfigOptions): ClusterConfig {
  const { source } = options;
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (error) {
    const where = error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : '';
    throw configError(`${source}: not valid TOML${where}: ${firstLine(error)}`, error);
  }
  checkKeys(doc, ['cluster', 'limits', 'replication', 'control', 'shards'], source, '');
  const cluster = table(doc['cluster'] ?? {}, source, 'cluster');
  if (cluster['epoch'] !== undefined) {
    throw configError(`${source}: cluster.epoch is gone: the control plane now versions the cluster's shape (docs/control-plane.md); remove the line`);
  }
  checkKeys(cluster, ['vnodes', 'controllers', 'token', 'internal_token', 'auth'], source, 'cluster.');
  const vnodes = integer(cluster['vnodes'] ?? VNODES_DEFAULT, [VNODES_MIN, VNODES_MAX], source, 'cluster.vnodes');
  const token = parseToken(options.envToken ?? cluster['token'], options.envToken !== undefined ? 'DISTRIBKV_TOKEN' : `${source}: cluster.token`);
  const internalToken = parseToken(options.envInternalToken ?? cluster['internal_token'], options.envInternalToken !== undefined ? 'DISTRIBKV_INTERNAL_TOKEN' : `${source}: cluster.internal_token`);
  const authScope = parseAuthScope(cluster['auth'] ?? 'internal', source);
  const limits = parseLimits(table(doc['limits'] ?? {}, source, 'limits'), source);
  const replication = parseReplication(table(doc['replication'] ?? {}, source, 'replication'), source);
  const control = parseControl(table(doc['control'] ?? {}, source, 'control'), source);
  const shards = parseShards(doc['shards'], source);
  const controllers = cluster['controllers'] === undefined ? defaultControllers(shards) : parseControllers(cluster['controllers'], source);
  if (authScope === 'all' && token === undefined) {
    throw configError(`${source}: cluster.auth = "all" needs a token (cluster.token or DISTRIBKV_TOKEN)`);
  }
  // Under "all" every client holds the token: it must not also open replication streams and the control plane.
  if (authScope === 'all' && internalToken === undefined) {
    throw configError(`${source}: cluster.auth = "all" hands the token to clients, so the nodes need their own credential: set cluster.internal_token or DISTRIBKV_INTERNAL_TOKEN`);
  }
  if (internalToken !== undefined && internalToken === token) {
    throw configError(`${source}: cluster.internal_token must differ from cluster.token (the point is that clients and operators cannot speak for a node)`);
  }
  return Object.freeze({ source, vnodes, controllers, token, internalToken, authScope, limits: Object.freeze(limits), replication: Object.freeze(replication), control: Object.freeze(control), shards });
}

/** Controllers by default: the shards' leaders in file order, then their replicas; 3 of them, or 1 with fewer than 3 nodes. */
export function defaultControllers(shards: readonly ShardConfig[]): readonly string[] {
  const nodes = [...shards.map((s) => s.leader), ...shards.flatMap((s) => s.replicas)];
  return Object.freeze(nodes.slice(0, nodes.length >= 3 ? 3 : 1));
}

function parseControllers(value: unknown, source: string): readonly string[] {
  if (!Array.isArray(value)) throw configError(`${source}: cluster.controllers must be an array of "host:port", got ${describe(value)}`);
  if (![1, 3, 5].includes(value.length)) {
    throw configError(`${source}: cluster.controllers must list 1, 3 or 5 nodes (a majority of them must be up; an even count adds no tolerance), got ${value.length}`);
  }
  const controllers = value.map((v, i) => address(v, source, `cluster.controllers[${i}]`));
  const twice = controllers.find((a, i) => controllers.indexOf(a) !== i);
  if (twice) throw configError(`${source}: cluster.controllers lists ${JSON.stringify(twice)} twice`);
  return Object.freeze(controllers);
}

function parseControl(raw: Record<string, unknown>, source: string): ControlOptions {
  const options: ControlOptions = { ...DEFAULT_CONTROL };
  for (const [key, value] of Object.entries(raw)) {
    const name = CONTROL_KEYS[key];
    if (!name) throw configError(`${source}: unknown key control.${key}; known: ${Object.keys(CONTROL_KEYS).join(', ')}`);
    options[name] = integer(value, CONTROL_RANGES[name], source, `control.${key}`);
  }
  const problems = controlProblems(options);
  if (problems.length > 0) throw configError(`${source}: ${problems[0]}`);
  return options;
}

function parseShards(value: unknown, source: string): ShardConfig[] {
  if (value === undefined) throw configError(`${source}: no [[shards]]; a cluster needs at least one shard`);
  if (!Array.isArray(value)) throw configError(`${source}: shards must be an array of tables ([[shards]]), got ${describe(value)}`);
  if (value.length === 0) throw configError(`${source}: no [[shards]]; a cluster needs at least one shard`);
  if (value.length > SHARDS_MAX) throw configError(`${source}: at most ${SHARDS_MAX} shards, got ${value.length}`);
  const names = new Set<string>();
  const addresses = new Map<string, string>();
  const shards = value.map((raw, i) => {
    const field = `shards[${i}]`;
    const shard = parseShard(table(raw, source, field), source, field);
    if (names.has(shard.name)) throw configError(`${source}: ${field}.name ${JSON.stringify(shard.name)} is used by two shards`);
    names.add(shard.name);
    for (const address of [shard.leader, ...shard.replicas]) {
      const other = addresses.get(address);
      if (other) throw configError(`${source}: address ${JSON.stringify(address)} is used twice (${other} and ${field})`);
      addresses.set(address, field);
    }
    return shard;
  });
  return shards;
}

function parseShard(raw: Record<string, unknown>, source: string, field: string): ShardConfig {
  checkKeys(raw, ['name', 'leader', 'replicas'], source, `${field}.`);
  const name = raw['name'];
  if (typeof name !== 'string' || !SHARD_NAME.test(name)) {
    throw configError(`${source}: ${field}.name must be 1-64 letters, digits, '.', '_' or '-', got ${quote(name)}`);
  }
  if (raw['leader'] === undefined) throw configError(`${source}: ${field} (${JSON.stringify(name)}) has no leader`);
  const leader = address(raw['leader'], source, `${field}.leader`);
  const replicasRaw = raw['replicas'] ?? [];
  if (!Array.isArray(replicasRaw)) throw configError(`${source}: ${field}.replicas must be an array, got ${describe(replicasRaw)}`);
  if (replicasRaw.length > REPLICAS_PER_SHARD_MAX) {
    throw configError(`${source}: ${field}.replicas has ${replicasRaw.length} entries; at most ${REPLICAS_PER_SHARD_MAX}`);
  }
  const replicas = replicasRaw.map((r, j) => address(r, source, `${field}.replicas[${j}]`));
  return Object.freeze({ name, leader, replicas: Object.freeze(replicas) });
}

function parseLimits(raw: Record<string, unknown>, source: string): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(raw)) {
    const name = LIMIT_KEYS[key];
    if (!name) throw configError(`${source}: unknown key limits.${key}; known: ${Object.keys(LIMIT_KEYS).join(', ')}`);
    limits[name] = integer(value, LIMIT_RANGES[name], source, `limits.${key}`);
  }
  return limits;
}

function parseReplication(raw: Record<string, unknown>, source: string): ReplicationOptions {
  const options: ReplicationOptions = { ...DEFAULT_REPLICATION };
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'topology_check_interval_ms') {
      throw configError(`${source}: replication.topology_check_interval_ms is gone: leaders no longer poll for a newer topology, the control plane tells them (docs/control-plane.md); remove the line`);
    }
    const name = REPLICATION_KEYS[key];
    if (!name) throw configError(`${source}: unknown key replication.${key}; known: ${Object.keys(REPLICATION_KEYS).join(', ')}`);
    if (name === 'acksDefault') {
      const acks = parseAcks(value);
      if (acks === undefined) throw configError(`${source}: replication.acks must be 0, 1 or "all", got ${quote(value)}`);
      options.acksDefault = acks;
    } else if (name === 'followerSync') {
      if (typeof value !== 'boolean') throw configError(`${source}: replication.follower_sync must be true or false, got ${quote(value)}`);
      options.followerSync = value;
    } else {
      options[name] = integer(value, REPLICATION_RANGES[name], source, `replication.${key}`);
    }
  }
  return options;
}

function parseToken(value: unknown, where: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw configError(`${where} must be a string, got ${describe(value)}`);
  const bytes = Buffer.byteLength(value);
  // The token itself is never quoted in a message: messages end up in logs.
  if (bytes < TOKEN_BYTES_MIN || bytes > TOKEN_BYTES_MAX) {
    throw configError(`${where} must be ${TOKEN_BYTES_MIN}-${TOKEN_BYTES_MAX} bytes, got ${bytes}`);
  }
  if (!/^[\x21-\x7e]+$/.test(value)) throw configError(`${where} must be printable ASCII without spaces`);
  return value;
}

function parseAuthScope(value: unknown, source: string): AuthScope {
  if (value === 'internal' || value === 'all') return value;
  throw configError(`${source}: cluster.auth must be "internal" or "all", got ${quote(value)}`);
}

function address(value: unknown, source: string, field: string): string {
  const canonical = typeof value === 'string' ? canonicalAddress(value) : undefined;
  if (!canonical) throw configError(`${source}: ${field} must be "host:port" (port 1-65535), got ${quote(value)}`);
  return canonical;
}

function integer(value: unknown, range: readonly [number, number], source: string, field: string): number {
  // smol-toml returns integers as numbers unless they overflow 2^53, then as bigints.
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
    throw configError(`${source}: ${field} must be an integer in [${range[0]}, ${range[1]}], got ${quote(value)}`);
  }
  return value;
}

function table(value: unknown, source: string, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
    throw configError(`${source}: ${field} must be a table, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function checkKeys(raw: Record<string, unknown>, known: string[], source: string, prefix: string): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw configError(`${source}: unknown key ${prefix}${key}; known: ${known.join(', ')}`);
  }
}

function quote(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return describe(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  return typeof value === 'object' ? 'a table' : typeof value;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
