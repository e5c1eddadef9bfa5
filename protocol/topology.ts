/**
 * The topology: which shards exist, who leads and replicates each, the ring that maps keys
 * to shards, and the epoch that versions all of this. Built from cluster.toml by a node, and
 * from `GET /cluster` JSON by a client, so both route keys with the very same ring.
 *
 * Pure and immutable. A topology change (a later failover issue) builds a new Topology with
 * a higher epoch; holders swap the reference.
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
}

export type Role = 'leader' | 'replica';

/** The wire form sent by `GET /cluster`; documented in docs/api.md. */
export interface TopologyJson {
  epoch: number;
  ring: { hash: 'xxhash64'; placement: 'sectored'; vnodes: number };
  shards: { name: string; leader: string; replicas: string[] }[];
}

export class Topology {
  readonly epoch: number;
  readonly shards: readonly ShardInfo[];
  readonly ring: Ring;
  private readonly byName: ReadonlyMap<string, ShardInfo>;

  private constructor(epoch: number, shards: readonly ShardInfo[], vnodes: number) {
    this.epoch = epoch;
    this.shards = shards;
    this.ring = Ring.build(shards.map((s) => s.name), vnodes);
    this.byName = new Map(shards.map((s) => [s.name, s]));
  }

  static fromConfig(config: ClusterConfig): Topology {
    return new Topology(config.epoch, config.shards, config.vnodes);
  }

  /** Validates `GET /cluster` JSON; a bad document is a BAD_REQUEST-coded error naming the field. */
  static fromJson(value: unknown): Topology {
    const json = value as Partial<TopologyJson> | null;
    const fail = (what: string): never => {
      throw new ClusterError('BAD_REQUEST', `topology: ${what}`);
    };
    if (!json || typeof json !== 'object') return fail('not a JSON object');
    if (!Number.isSafeInteger(json.epoch) || (json.epoch as number) < 1) fail(`epoch must be a positive integer, got ${String(json.epoch)}`);
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
      return Object.freeze({ name: s.name, leader: leader!, replicas: Object.freeze(replicas) });
    });
    return new Topology(json.epoch!, Object.freeze(shards), vnodes);
  }

  /**
   * The topology after a failover: `address`, a replica of `shardName`, leads it under
   * `epoch`, and the old leader becomes its first replica. Nothing else changes, so the ring
   * (built from shard names) places every key where it was.
   * REQUIRES: `address` is a replica of the shard and `epoch` is newer.
   */
  withLeader(shardName: string, address: string, epoch: number): Topology {
    const shard = this.byName.get(shardName);
    if (!shard || !shard.replicas.includes(address) || epoch <= this.epoch) {
      throw new Error(`topology: cannot make ${address} leader of ${shardName} at epoch ${epoch} (now ${this.epoch})`);
    }
    const promoted = Object.freeze({ name: shard.name, leader: address, replicas: Object.freeze([shard.leader, ...shard.replicas.filter((r) => r !== address)]) });
    return new Topology(epoch, Object.freeze(this.shards.map((s) => (s === shard ? promoted : s))), this.ring.vnodes);
  }

  /** Whether two topologies say the same thing (same epoch, shards, leaders and replicas). */
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
      epoch: this.epoch,
      ring: { hash: 'xxhash64', placement: 'sectored', vnodes: this.ring.vnodes },
      shards: this.shards.map((s) => ({ name: s.name, leader: s.leader, replicas: [...s.replicas] })),
    };
  }
}
