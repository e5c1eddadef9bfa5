/**
 * Snapshots: a sequence number that reads are pinned to, plus the registry of live ones.
 * Compaction must keep, for each live snapshot, the newest version visible to it, so the
 * registry answers "what is the oldest sequence number anyone can still read at?".
 */
import { InvalidArgumentError } from './errors.ts';

export class Snapshot {
  private released = false;
  constructor(
    readonly seq: number,
    private readonly registry: SnapshotRegistry,
  ) {}

  /** Lets compaction drop the versions only this snapshot could see. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.registry.remove(this.seq);
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** @internal */
  belongsTo(registry: SnapshotRegistry): boolean {
    return this.registry === registry;
  }
}

export class SnapshotRegistry {
  private readonly counts = new Map<number, number>();

  create(seq: number): Snapshot {
    this.counts.set(seq, (this.counts.get(seq) ?? 0) + 1);
    return new Snapshot(seq, this);
  }

  remove(seq: number): void {
    const n = this.counts.get(seq) ?? 0;
    if (n <= 1) this.counts.delete(seq);
    else this.counts.set(seq, n - 1);
  }

  /** Live snapshot sequence numbers, ascending. */
  list(): number[] {
    return [...this.counts.keys()].sort((a, b) => a - b);
  }

  get size(): number {
    return this.counts.size;
  }

  /** The sequence number a read pinned to `snapshot` uses; checks the snapshot is usable. */
  resolve(snapshot: unknown, latest: number): number {
    if (snapshot === undefined) return latest;
    if (!(snapshot instanceof Snapshot) || !snapshot.belongsTo(this)) {
      throw new InvalidArgumentError('option "snapshot" must be a snapshot from this database');
    }
    if (snapshot.isReleased) throw new InvalidArgumentError(`snapshot at seq ${snapshot.seq} was already released`);
    return snapshot.seq;
  }
}
