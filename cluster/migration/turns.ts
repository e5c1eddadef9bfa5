/**
 * Gives the event loop back during a migration's long loops (the giver's scan of its snapshot,
 * the receiver's apply of frames, the cleanup's deletes).
 *
 * Why: the engine reads blocks synchronously and a socket on loopback drains as fast as it is
 * written, so `for await` over a snapshot of a million keys never waits for anything: it ran
 * for seconds in microtasks, and meanwhile no timer fired (the leader's lease renewals, every
 * 300 ms) and no request was read. Leases lapsed, every shard on the node answered
 * LEASE_EXPIRED, and clients retried for up to 10 s: throughput during a 1M-key migration fell
 * to 0.007x of before (bench:reshard). A turn of at most MIGRATION_TURN_MS keeps both going
 * (0.19x). Then each turn rests in proportion to its work, so a migration's loop takes at most
 * MIGRATION_WORK_SHARE of the time: a move takes longer, and the clients keep the CPU they need.
 */
import { MIGRATION_TURN_MS, MIGRATION_WORK_SHARE } from '../limits.ts';

export class TurnKeeper {
  private startedMs: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.startedMs = now();
  }

  /** Resolves at once within a turn; after MIGRATION_TURN_MS, once the turn has rested its share. */
  async pause(): Promise<void> {
    const elapsedMs = this.now() - this.startedMs;
    if (elapsedMs < MIGRATION_TURN_MS) return;
    // A turn's time may include waits (a socket draining, the next frame arriving) that were no
    // work: rest for one turn's worth at most, or two loops waiting on each other (giver and
    // receiver) would each count the other's rest as work and rest longer, until they stall.
    const restMs = Math.round(Math.min(elapsedMs, MIGRATION_TURN_MS) * (1 / MIGRATION_WORK_SHARE - 1));
    await new Promise<void>((resolve) => (restMs > 0 ? setTimeout(resolve, restMs) : setImmediate(resolve)));
    this.startedMs = this.now();
  }
}
