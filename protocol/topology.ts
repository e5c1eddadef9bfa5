/**
 * The topology: which shards exist, who leads and replicates each at which term, and the ring
 * that maps keys to shards, at one version of the cluster's metadata. A node builds it from the
 * metadata the control plane committed (cluster/control/metadata.ts; from cluster.toml, at
 * version 0, until the first commit), and a client from `GET /cluster` JSON, so both route keys
 * with the very same ring.
 *
 * Pure and immutable. A change (a failover, a new shard) is a new Topology with a higher
 * version; holders swap the reference, and a client that sees a higher `X-Version` on any
 * answer fetches the new one.
 */
import { canonicalAddress } from './address.ts';
import type { ClusterConfig } from './config.ts';
import { ClusterError } from './errors.ts';
import { SHARDS_MAX, VNODES_MAX, VNODES_MIN } from './limits.ts';
import { Placement, type MoveState, type MoveView, type Owner } from './placement.ts';
import { Ring } from './ring.ts';

export interface ShardInfo {
  readonly name: string;
  readonly leader: string;
  readonly replicas: readonly string[];
  /** The shard's term: it moves only when the shard gets a new leader. */
  readonly term: number;
}

export type Role = 'leader' | 'replica';

/**
 * A migration as clients see it: the ring it leads to, and where each move stands. Routing
 * uses `to` and each move's giver, receiver and state; the rest is for operators (`through`:
 * the giver's sequence number up to which the receiver holds the moving keys durably).
 */
export interface MigrationJson {
  id?: number;
  kind?: 'add' | 'remove';
  shard?: string;
  to: string[];
  moves: { giver: string; receiver: string; state: MoveState; through?: number; cleaned?: boolean }[];
}

/** The wire form sent by `GET /cluster`; documented in docs/api.md. */
export interface TopologyJson {
  version: number;
  /** `shards`: the shards on the ring (all of them unless a shard is being added). */
  ring: { hash: 'xxhash64'; placement: 'sectored'; vnodes: number; shards?: string[] };
  shards: { name: string; leader: string; replicas: string[]; term: number }[];
  migration?: MigrationJson;
}

export class Topology {
  /** The metadata version this topology shows (0: cluster.toml's, not yet committed). */
  readonly version: number;
  readonly shards: readonly ShardInfo[];
  readonly placement: Placement;
  private readonly byName: ReadonlyMap<string, ShardInfo>;
  private readonly ringShards: readonly string[];
  private readonly migration: MigrationJson | undefined;

  private constructor(version: number, shards: readonly ShardInfo[], vnodes: number, ringShards?: readonly string[], migration?: MigrationJson) {
    this.version = version;
    this.shards = shards;
    this.ringShards = ringShards ?? shards.map((s) => s.name);
    this.migration = migration;
    this.placement = new Placement(Ring.build(this.ringShards, vnodes), migration && Ring.build(migration.to, vnodes), migration?.moves ?? []);
    this.byName = new Map(shards.map((s) => [s.name, s]));
  }

  /** cluster.toml's shards, each led by its configured leader at term 1, as version 0. */
  static fromConfig(config: ClusterConfig): Topology {
    return new Topology(0, config.shards.map((s) => Object.freeze({ ...s, term: 1 })), config.vnodes);
  }

  /** A topology at `version` (the node builds it from the committed metadata). */
  static of(version: number, shards: readonly ShardInfo[], vnodes: number, ringShards?: readonly string[], migration?: MigrationJson): Topology {
    return new Topology(version, Object.freeze(shards.map((s) => Object.freeze({ ...s, replicas: Object.freeze([...s.replicas]) }))), vnodes, ringShards, migration);
  }

  /** Validates `GET /cluster` JSON; a bad document is a BAD_REQUEST-coded error naming the field. */
  static fromJson(value: unknown): Topology {
    const json = value as Partial<TopologyJson> | null;
    const fail = (what: string): never => {
      throw new ClusterError('BAD_REQUEST', `topology: ${what}`);
    };
    if (!json || typeof json !== 'object') return fail('not a JSON object');
    if (!Number.isSafeInteger(json.version) || (json.version as number) < 0) fail(`version must be a non-negative integer, got ${String(json.version)}`);
    const ring = json.ring;
    if (!ring || ring.hash !== 'xxhash64' || ring.placement !== 'sectored') fail('ring must be {hash: "xxhash64", placement: "sectored"}');
    const vnodes = ring!.vnodes;
    if (!Number.isInteger(vnodes) || vnodes < VNODES_MIN || vnodes > VNODES_MAX) fail(`ring.vnodes out of range, got ${String(vnodes)}`);
    if (!Array.isArray(json.shards) || json.shards.length === 0 || json.shards.length > SHARDS_MAX) fail('shards must be a non-empty array');
    const names = new Set<string>();
    const shards = json.shards!.map((s, i): ShardInfo => {
      if (!s || typeof s.name !== 'string' || names.has(s.name)) fail(`shards[${i}].name missing or repeated`);
      names.add(s.name);
      const leader = typeof s.leader === 'string' ? canonicalAddress(s.leader) : undefined;
      if (!leader) fail(`shards[${i}].leader is not host:port`);
      if (!Array.isArray(s.replicas)) fail(`shards[${i}].replicas must be an array`);
      const replicas = s.replicas.map((r, j) => (typeof r === 'string' && canonicalAddress(r)) || fail(`shards[${i}].replicas[${j}] is not host:port`));
      if (!Number.isSafeInteger(s.term) || s.term < 1) fail(`shards[${i}].term must be a positive integer`);
      return Object.freeze({ name: s.name, leader: leader!, replicas: Object.freeze(replicas), term: s.term });
    });
    const ringShards = ring!.shards ?? shards.map((s) => s.name);
    if (!Array.isArray(ringShards) || ringShards.length === 0 || !ringShards.every((n) => names.has(n))) fail('ring.shards must name shards of the topology');
    const migration = json.migration;
    if (migration !== undefined) {
      const known = (n: unknown) => typeof n === 'string' && names.has(n);
      const ok = migration && Array.isArray(migration.to) && migration.to.length > 0 && migration.to.every(known) && Array.isArray(migration.moves) &&
        migration.moves.every((m) => m && known(m.giver) && known(m.receiver) && ['copy', 'cutover', 'done'].includes(m.state));
      if (!ok) fail('migration must be {to: [shard names], moves: [{giver, receiver, state}]}');
    }
    return new Topology(json.version!, Object.freeze(shards), vnodes, ringShards, migration);
  }

  /** Whether two topologies say the same thing (same version, shards, leaders, replicas and terms). */
  sameAs(other: Topology): boolean {
    return JSON.stringify(this.toJson()) === JSON.stringify(other.toJson());
  }

  /** The shard that owns `key`. */
  shardOf(key: Uint8Array): ShardInfo {
    return this.byName.get(this.placement.ownerOf(key).shard)!;
  }

  /** The owner of `key`, and the move it belongs to if it is moving. */
  ownerOf(key: Uint8Array): Owner {
    return this.placement.ownerOf(key);
  }

  get vnodes(): number {
    return this.placement.vnodes;
  }

  shard(name: string): ShardInfo | undefined {
    return this.byName.get(name);
  }

  /** Which shard and role a node address has, or undefined if it is not in the topology. */
  locate(address: string): { shard: ShardInfo; role: Role } | undefined {
    for (const shard of this.shards) {
      if (shard.leader === address) return { shard, role: 'leader' };
      if (shard.replicas.includes(address)) return { shard, role: 'replica' };
    }
    return undefined;
  }

  /** Every node address, leaders first. */
  addresses(): string[] {
    return [...this.shards.map((s) => s.leader), ...this.shards.flatMap((s) => s.replicas)];
  }

  toJson(): TopologyJson {
    return {
      version: this.version,
      ring: { hash: 'xxhash64', placement: 'sectored', vnodes: this.placement.vnodes, ...(this.ringShards.length !== this.shards.length && { shards: [...this.ringShards] }) },
      shards: this.shards.map((s) => ({ name: s.name, leader: s.leader, replicas: [...s.replicas], term: s.term })),
      ...(this.migration && { migration: { ...this.migration, to: [...this.migration.to], moves: this.migration.moves.map((m) => ({ ...m })) } }),
    };
  }
}
