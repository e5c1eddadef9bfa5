/**
 * The node's metrics, served at `GET /metrics` in the Prometheus text format (prom-client).
 * docs/operations.md lists every metric and how to read it.
 *
 * Two kinds of figures:
 * - per request (`observeRequest`, on the hot path): one histogram observation labelled by
 *   method, route template and status, about half a microsecond. Labels are bounded: the
 *   route is the template (`/kv/{key}`), never the raw path, and a method outside the API's
 *   is `OTHER`, so a client cannot grow the label set.
 * - per scrape (`render`): the engine's `db.stats()` and the replication figures are read
 *   once, copied into gauges and counters, and the registry is rendered. Nothing polls.
 *
 * Concurrency: everything runs on the event loop; a scrape reads a consistent snapshot of
 * each source because reading it is synchronous.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../engine/index.ts';
import type { ReplicationFigures } from './replication/controller.ts';
import type { FollowerStatus } from './replication/follower-tracker.ts';
import { RequestTally, type RequestTotals } from './request-tally.ts';

export type EngineStats = ReturnType<Db['stats']>;

export interface MetricsSources {
  /** This node's address, shard and role right now. */
  node(): { address: string; shard: string; role: string };
  engine(): EngineStats;
  replication(): ReplicationFigures;
}

/** Latency buckets in seconds: 100 µs to 10 s, dense where a healthy node answers. */
export const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** The route label of a request that matched no route (404, 405, 401, malformed). */
export const UNMATCHED_ROUTE = 'unmatched';

const KNOWN_METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']);

/** The method label: the request's method if HTTP defines it, else `OTHER`. */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && KNOWN_METHODS.has(method) ? method : 'OTHER';
}

/**
 * Writes acknowledged by the leader that no follower has reported applying yet, in sequence
 * numbers: what a failover to the most up-to-date replica would lose now (acks=1 writes; acks=all
 * writes still waiting are counted too, though none of them was acknowledged). Positions are as
 * last reported: under acks=1 alone followers report on a cadence (leader-machine.ts), so this
 * overstates the exposure by up to one report interval's writes.
 */
export function unreplicatedOps(lastSeq: number, followers: readonly FollowerStatus[]): number {
  const furthest = followers.reduce((max, f) => Math.max(max, f.applied), 0);
  return Math.max(0, lastSeq - furthest);
}

/** The engine's size as `kv status` and the dashboard show it. */
export interface EngineSummary {
  /** Live keys, estimated (engine/lsm-tree.ts `keysEstimate`). */
  keysEstimate: number;
  sstBytes: number;
  walBytes: number;
  /** Tables and WAL: the bytes the engine holds on disk (the MANIFEST and node state are a few KiB more). */
  diskBytes: number;
  memtableBytes: number;
  /** Tables per level, L0 first. */
  levelFiles: number[];
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly requests: Histogram<'method' | 'route' | 'status'>;
  private readonly gauges: ReturnType<typeof makeGauges>;
  private readonly tally = new RequestTally(LATENCY_BUCKETS_SECONDS);

  constructor(private readonly sources: MetricsSources, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Histogram({
      name: 'distribkv_http_request_duration_seconds',
      help: 'Time from a request\'s arrival to its response\'s end, by method, route template and status; _count is the request count',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.gauges = makeGauges(registers);
    // CPU, memory, event-loop delay, GC: what a stalled node looks like from outside.
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Records one finished request. `route` is a path template from routes.ts or UNMATCHED_ROUTE. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe({ method, route, status: statusLabel(status) }, seconds);
    this.tally.observe(route, status, seconds);
  }

  /** For /internal/state: the data requests' running totals, and the engine's size. */
  summary(): { requests: RequestTotals; engine: EngineSummary } {
    const stats = this.sources.engine();
    const sstBytes = stats.levels.reduce((n, l) => n + l.bytes, 0);
    return {
      requests: this.tally.snapshot(),
      engine: { keysEstimate: stats.keysEstimate, sstBytes, walBytes: stats.walBytes, diskBytes: sstBytes + stats.walBytes, memtableBytes: stats.memtableBytes, levelFiles: stats.levels.map((l) => l.files) },
    };
  }

  /** The registry in the Prometheus text format, with the engine and replication figures read now. */
  async render(): Promise<string> {
    this.copyNode();
    this.copyEngine(this.sources.engine());
    this.copyReplication(this.sources.replication());
    return this.registry.metrics();
  }

  private copyNode(): void {
    const { address, shard, role } = this.sources.node();
    this.gauges.info.reset();
    this.gauges.info.set({ node: address, shard, role }, 1);
  }

  private copyEngine(stats: EngineStats): void {
    const g = this.gauges;
    g.levelFiles.reset();
    g.levelBytes.reset();
    for (const { level, files, bytes } of stats.levels) {
      g.levelFiles.set({ level: String(level) }, files);
      g.levelBytes.set({ level: String(level) }, bytes);
    }
    g.lastSequence.set(stats.lastSequence);
    g.memtableBytes.set(stats.memtableBytes);
    g.writeAmplification.set(stats.writeAmplification);
    g.cacheHitRatio.set(stats.blockCacheHitRate);
    setCounter(g.stallSeconds, stats.stallMs / 1000);
    setCounter(g.slowdowns, stats.slowdowns);
    setCounter(g.stops, stats.stops);
    setCounter(g.flushes, stats.flushes);
    setCounter(g.compactions, stats.compactions);
    setCounter(g.userBytes, stats.userBytesWritten);
    setCounter(g.writeGroups, stats.writeGroups);
    setCounter(g.writesGrouped, stats.writesGrouped);
    setCounter(g.cacheHits, stats.blockCacheHits);
    setCounter(g.cacheMisses, stats.blockCacheMisses);
  }

  private copyReplication(figures: ReplicationFigures): void {
    const g = this.gauges;
    g.term.set(figures.term);
    g.metadataVersion.set(figures.metadataVersion);
    g.leaseValid.set(figures.leader?.leaseValid ? 1 : 0);
    for (const gauge of [g.followerLagSeq, g.followerLagMs, g.followerInSync, g.followerKeepingUp, g.followerConnected]) gauge.reset();
    g.unreplicated.reset();
    g.waitingWrites.reset();
    g.appliedSeq.reset();
    g.leaderSeq.reset();
    if (figures.leader) {
      const { followers, lastSeq, waitingWrites } = figures.leader;
      for (const f of followers) {
        const labels = { follower: f.node };
        g.followerLagSeq.set(labels, f.lagSeq);
        g.followerLagMs.set(labels, f.lagMs);
        g.followerInSync.set(labels, f.inSync ? 1 : 0);
        g.followerKeepingUp.set(labels, f.keepingUp ? 1 : 0);
        g.followerConnected.set(labels, f.connected ? 1 : 0);
      }
      g.unreplicated.set(unreplicatedOps(lastSeq, followers));
      g.waitingWrites.set(waitingWrites);
    }
    if (figures.follower) {
      // Labelled with the leader so that a leader, which follows no one, shows no such series.
      const labels = { leader: figures.follower.leader };
      g.appliedSeq.set(labels, figures.follower.applied);
      g.leaderSeq.set(labels, figures.follower.leaderSeq);
    }
  }
}

function makeGauges(registers: Registry[]) {
  const gauge = <L extends string = never>(name: string, help: string, labelNames: L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
  const counter = (name: string, help: string) => new Counter({ name, help, registers });
  return {
    info: gauge('distribkv_node_info', 'Always 1; labels say which node this is, its shard and its role', ['node', 'shard', 'role']),
    term: gauge('distribkv_shard_term', 'The term of this node\'s shard (it moves when the shard gets a new leader); 0 without a shard'),
    metadataVersion: gauge('distribkv_metadata_version', 'The version of the cluster metadata this node routes by'),
    leaseValid: gauge('distribkv_leader_lease_valid', 'Leader: 1 while it holds a lease from the control plane (it takes writes only then)'),
    levelFiles: gauge('distribkv_engine_level_files', 'SSTables per LSM level', ['level']),
    levelBytes: gauge('distribkv_engine_level_bytes', 'Bytes of SSTables per LSM level', ['level']),
    lastSequence: gauge('distribkv_engine_last_sequence', 'The engine\'s last sequence number (a replica\'s position in its leader\'s log)'),
    memtableBytes: gauge('distribkv_engine_memtable_bytes', 'Bytes in the active memtable'),
    writeAmplification: gauge('distribkv_engine_write_amplification', 'Bytes written to disk (WAL, flushes, compactions) per byte of user data, since open'),
    cacheHitRatio: gauge('distribkv_engine_block_cache_hit_ratio', 'Block cache hits over lookups, since open'),
    stallSeconds: counter('distribkv_engine_stall_seconds_total', 'Time writes spent held back by L0 slowdowns and stops'),
    slowdowns: counter('distribkv_engine_write_slowdowns_total', 'Writes delayed because L0 had many files'),
    stops: counter('distribkv_engine_write_stops_total', 'Times writes stopped until a flush or compaction caught up'),
    flushes: counter('distribkv_engine_flushes_total', 'Memtables flushed to L0'),
    compactions: counter('distribkv_engine_compactions_total', 'Compactions run'),
    userBytes: counter('distribkv_engine_user_bytes_written_total', 'Bytes of keys and values written by clients (and, on a replica, by replication)'),
    writeGroups: counter('distribkv_engine_write_groups_total', 'Group commits: WAL records written, each holding one or more writes (one replication batch each)'),
    writesGrouped: counter('distribkv_engine_writes_grouped_total', 'Writes (puts, deletes, batches) committed in those groups; divided by the groups, the group-commit size'),
    cacheHits: counter('distribkv_engine_block_cache_hits_total', 'Block cache hits'),
    cacheMisses: counter('distribkv_engine_block_cache_misses_total', 'Block cache misses'),
    followerLagSeq: gauge('distribkv_replication_follower_lag_sequence_numbers', 'Leader: ops in its log the follower has not applied', ['follower']),
    followerLagMs: gauge('distribkv_replication_follower_lag_milliseconds', 'Leader: age of the oldest batch the follower has not applied (0 when caught up, +Inf when no longer retained)', ['follower']),
    followerInSync: gauge('distribkv_replication_follower_in_sync', 'Leader: 1 if the follower is in the committed in-sync set (it counts for acks=all)', ['follower']),
    followerKeepingUp: gauge('distribkv_replication_follower_keeping_up', 'Leader: 1 if the follower has a stream open and lags at most replica_lag_max_ms', ['follower']),
    followerConnected: gauge('distribkv_replication_follower_connected', 'Leader: 1 if the follower has a stream open', ['follower']),
    unreplicated: gauge('distribkv_replication_unreplicated_ops', 'Leader: ops acknowledged (acks=1) or waiting (acks=all) that no follower has applied yet'),
    waitingWrites: gauge('distribkv_replication_waiting_writes', 'Leader: acks=all writes waiting for follower acks'),
    appliedSeq: gauge('distribkv_replication_applied_sequence', 'Replica: the last sequence number applied from its leader\'s log', ['leader']),
    leaderSeq: gauge('distribkv_replication_leader_sequence', 'Replica: its leader\'s last sequence number, as last heard', ['leader']),
  };
}

/** A counter mirrors a running total kept elsewhere; it drops back only when the engine is replaced. */
function setCounter(counter: Counter, total: number): void {
  counter.reset();
  counter.inc(total);
}

const STATUS_LABELS = new Map<number, string>();

function statusLabel(status: number): string {
  let label = STATUS_LABELS.get(status);
  if (label === undefined) {
    label = String(status);
    // Statuses come from the node's own table, so this map stays small; bound it anyway.
    if (STATUS_LABELS.size < 100) STATUS_LABELS.set(status, label);
  }
  return label;
}
