/**
 * Which shard owns a key, also while a migration moves parts of the ring from one set of shards
 * to another (docs/resharding.md). Nodes and clients compute it the same way from the same
 * metadata, so they agree on every key.
 *
 * Without a migration, the owner is the ring's (ring.ts). During one, there are two rings, the
 * one before (`from`) and the one after (`to`); a key whose owner is the same on both does not
 * move. A key that moves belongs to the *move* from its owner on `from` (the giver) to its owner
 * on `to` (the receiver), and its owner is the receiver once that move is done, the giver until
 * then. A move in cutover is still the giver's, but the giver takes no writes for its keys.
 *
 * Pure, immutable; one hash per lookup.
 */
import { hash64, Ring } from './ring.ts';

export type MoveState = 'copy' | 'cutover' | 'done';

/** A giver → receiver move of a migration, as placement needs to know it. */
export interface MoveView {
  readonly giver: string;
  readonly receiver: string;
  readonly state: MoveState;
}

export interface Owner {
  /** The shard that owns the key now. */
  shard: string;
  /** The move the key belongs to, if it is moving in the current migration. */
  move: MoveView | undefined;
}

export class Placement {
  private readonly moves: ReadonlyMap<string, MoveView>;

  constructor(readonly from: Ring, readonly to: Ring | undefined, moves: readonly MoveView[]) {
    this.moves = new Map(moves.map((m) => [`${m.giver}>${m.receiver}`, m]));
  }

  /** A placement with no migration under way. */
  static of(shardNames: readonly string[], vnodes: number): Placement {
    return new Placement(Ring.build(shardNames, vnodes), undefined, []);
  }

  get vnodes(): number {
    return this.from.vnodes;
  }

  /** The shard that owns `key` now, and its move if it is moving. */
  ownerOf(key: Uint8Array): Owner {
    const hash = hash64(key);
    const giver = this.from.shardNames[this.from.ownerOfHash(hash)]!;
    if (!this.to) return { shard: giver, move: undefined };
    const receiver = this.to.shardNames[this.to.ownerOfHash(hash)]!;
    if (giver === receiver) return { shard: giver, move: undefined };
    const move = this.moves.get(`${giver}>${receiver}`);
    // Every moving arc belongs to a planned move; an unplanned one stays with the giver.
    return { shard: move?.state === 'done' ? receiver : giver, move };
  }
}

/** A predicate for the keys of one move, for the scans and log tails that copy or clean them. */
export function moveFilter(fromShards: readonly string[], toShards: readonly string[], vnodes: number, giver: string, receiver: string): (key: Uint8Array) => boolean {
  const from = Ring.build(fromShards, vnodes);
  const to = Ring.build(toShards, vnodes);
  const g = from.shardNames.indexOf(giver);
  const r = to.shardNames.indexOf(receiver);
  return (key) => {
    const hash = hash64(key);
    return from.ownerOfHash(hash) === g && to.ownerOfHash(hash) === r;
  };
}
