/**
 * Keys, values and the random choices of the cluster benchmark. A key is `k` and its index
 * zero-padded to 10 digits (11 ASCII bytes, no percent-encoding needed in a URL). Keys are
 * chosen uniformly or by a scrambled Zipfian distribution (YCSB's: theta 0.99, the hottest
 * keys spread over the key space rather than clustered at the low indexes).
 *
 * Raw HTTP sends each request straight to the node that owns it, so keys are also grouped by
 * the shard that owns them (`KeysByShard`), and each target draws from its shard's keys.
 */
import type { Topology } from '../../cluster/index.ts';

const encoder = new TextEncoder();

export function keyOf(index: number): string {
  return `k${String(index).padStart(10, '0')}`;
}

/** The engine benchmark's seeded generator: one mulberry32 for every benchmark. */
import { permutation, Random } from '../engine/keys.ts';

export { permutation, Random };

/** Zipfian ranks in [0, n) (Gray et al., "Quickly generating billion-record synthetic databases"; as in YCSB). */
export class Zipf {
  private readonly alpha: number;
  private readonly zetaN: number;
  private readonly eta: number;
  private readonly half: number;

  constructor(private readonly n: number, private readonly theta = 0.99) {
    let zeta2 = 0;
    let zetaN = 0;
    for (let i = 1; i <= n; i++) {
      const term = 1 / i ** theta;
      zetaN += term;
      if (i <= 2) zeta2 += term;
    }
    this.zetaN = zetaN;
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - (2 / n) ** (1 - theta)) / (1 - zeta2 / zetaN);
    this.half = 1 + 0.5 ** theta;
  }

  /** Rank 0 is the most frequent. */
  next(random: Random): number {
    const u = random.next();
    const uz = u * this.zetaN;
    if (uz < 1) return 0;
    if (uz < this.half) return Math.min(1, this.n - 1);
    return Math.min(this.n - 1, Math.floor(this.n * (this.eta * u - this.eta + 1) ** this.alpha));
  }
}

/** The key indexes 0..keys-1 grouped by owning shard, each group in a seeded random order (rank 0 = hottest). */
export function keysByShard(topology: Topology, keys: number, seed: number): Map<string, Uint32Array> {
  const groups = new Map<string, number[]>(topology.shards.map((s) => [s.name, []]));
  const order = permutation(keys, new Random(seed));
  for (const index of order) groups.get(topology.shardOf(encoder.encode(keyOf(index))).name)!.push(index);
  return new Map([...groups].map(([name, indexes]) => [name, Uint32Array.from(indexes)]));
}

/** Draws key indexes from one set of keys, uniformly or Zipfian. */
export class KeyChooser {
  private readonly zipf: Zipf | undefined;

  constructor(private readonly indexes: Uint32Array, zipfian: boolean, private readonly random: Random) {
    if (indexes.length === 0) throw new Error('KeyChooser needs at least one key');
    this.zipf = zipfian ? zipfOf(indexes.length) : undefined;
  }

  next(): string {
    const at = this.zipf ? this.zipf.next(this.random) : this.random.uniform(this.indexes.length);
    return keyOf(this.indexes[at]!);
  }
}

const zipfs = new Map<number, Zipf>();

/** A Zipf over `n` ranks, built once per `n` (building is O(n)). */
function zipfOf(n: number): Zipf {
  let zipf = zipfs.get(n);
  if (!zipf) zipfs.set(n, (zipf = new Zipf(n)));
  return zipf;
}
