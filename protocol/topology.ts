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
import { Ring } from './ring.ts';

export interface ShardInfo {
  readonly name: string;
  readonly leader: string;
  readonly replicas: readonly string[];
  /** The shard's term: it moves only when the shard gets a new leader. */
  readonly term: number;
}

export type Role = 'leader' | 'replica';

/** The wire form sent by `GET /cluster`; documented in docs/api.md. */
export interface TopologyJson {
  version: number;
  ring: { hash: 'xxhash64'; placement: 'sectored'; vnodes: number };
  shards: { name: string; leader: string; replicas: string[]; term: number }[];
}

export class Topology {
  /** The metadata version this topology shows (0: cluster.toml's, not yet committed). */
  readonly version: number;
  readonly shards: readonly ShardInfo[];
  readonly ring: Ring;
  private readonly byName: ReadonlyMap<string, ShardInfo>;

  private constructor(version: number, shards: readonly ShardInfo[], vnodes: number) {
    this.version = version;
    this.shards = shards;
    this.ring = Ring.build(shards.map((s) => s.name), vnodes);
    this.byName = new Map(shards.map((s) => [s.name, s]));
  }

  /** cluster.toml's shards, each led by its configured leader at term 1, as version 0. */
  static fromConfig(config: ClusterConfig): Topology {
    return new Topology(0, config.shards.map((s) => Object.freeze({ ...s, term: 1 })), config.vnodes);
  }

  /** A topology at `version` (the node builds it from the committed metadata). */
  static of(version: number, shards: readonly ShardInfo[], vnodes: number): Topology {
    return new Topology(version, Object.freeze(shards.map((s) => Object.freeze({ ...s, replicas: Object.freeze([...s.replicas]) }))), vnodes);
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
    return new Topology(json.version!, Object.freeze(shards), vnodes);
  }

  /** Whether two topologies say the same thing (same version, shards, leaders, replicas and terms). */
  sameAs(other: Topology): boolean {
    return JSON.stringify(this.toJson()) === JSON.stringify(other.toJson());
  }

  /** The shard that owns `key`. */
  shardOf(key: Uint8Array): ShardInfo {
    return this.byName.get(this.ring.shardOf(key))!;
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
      ring: { hash: 'xxhash64', placement: 'sectored', vnodes: this.ring.vnodes },
      shards: this.shards.map((s) => ({ name: s.name, leader: s.leader, replicas: [...s.replicas], term: s.term })),
    };
  }
}
