/**
 * A gate in front of the leader's client writes, so anti-entropy can read a key's current
 * value and write it back with no client write slipping in between.
 *
 * Why it is needed: the engine orders writes by when they are queued, and a read sees only
 * committed writes. A repair that read a key while a client's put of it sat in the queue, and
 * then queued the old value, would commit after that put and undo it. Under `exclusive`, new
 * client writes wait at the gate, the ones already in the engine finish, and only then does
 * the repair read and queue its batch; the gate opens once the batch is queued (the engine
 * keeps queue order from there).
 *
 * The gate also shuts for good when the node stops leading (`shut`): a write that passed
 * routing while the node led, but reaches the engine after it became a follower, would take a
 * sequence number of the leader's log in the follower's engine. Shut, the gate refuses it, and
 * `settled` lets the follower start only once the writes already in the engine are done.
 *
 * Concurrency: one JS thread; `exclusive` sections run one at a time. Writes waiting at the
 * gate are bounded by the node's in-flight request limit.
 */

/** Refuses a client write to `key` with an error, or lets it through with undefined. */
export type KeyFence = (key: Uint8Array) => Error | undefined;

export class WriteGate {
  private pending = 0;
  private fence: KeyFence | undefined;
  private closedUntil: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private refusal: (() => Error) | undefined;
  private readonly settledWaiters = new Set<() => void>();

  /** Refuses every client write from now on with `refusal()`, until `open`. */
  shut(refusal: () => Error): void {
    this.refusal = refusal;
  }

  open(): void {
    this.refusal = undefined;
  }

  /**
   * Refuses client writes to some keys from now on (a migration's cutover: the giver takes no
   * writes to the keys it hands over), checked as each write reaches the engine, so a write that
   * passed routing before the fence still cannot slip in after it. Undefined lifts it.
   */
  setFence(fence: KeyFence | undefined): void {
    this.fence = fence;
  }

  /** Resolves once no client write is in progress. */
  settled(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.add(resolve));
  }

  /** Runs a client write to `keys` through the gate. */
  async write<T>(start: () => Promise<T>, keys: readonly Uint8Array[] = []): Promise<T> {
    while (this.closedUntil) await this.closedUntil;
    if (this.refusal) throw this.refusal();
    if (this.fence) {
      for (const key of keys) {
        const refused = this.fence(key);
        if (refused) throw refused;
      }
    }
    this.pending++;
    try {
      return await start();
    } finally {
      this.pending--;
      if (this.pending === 0) {
        this.drained?.();
        for (const resolve of this.settledWaiters) resolve();
        this.settledWaiters.clear();
      }
    }
  }

  /** Runs `section` with the gate closed and every earlier write finished. */
  async exclusive<T>(section: () => Promise<T>): Promise<T> {
    while (this.closedUntil) await this.closedUntil;
    let open!: () => void;
    this.closedUntil = new Promise<void>((resolve) => {
      open = resolve;
    });
    try {
      if (this.pending > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.drained = undefined;
      return await section();
    } finally {
      this.closedUntil = undefined;
      open();
    }
  }
}
