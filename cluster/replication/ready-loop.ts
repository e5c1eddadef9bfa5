/**
 * The loop a shell runs around a pure machine (leader-machine.ts, follower-machine.ts): after
 * each step, take every Ready the machine has, advance it, carry the Ready out. Carrying out may
 * step the machine again (a full socket, a snapshot taken); that step's Ready is taken by the
 * same loop on its next turn, never by a nested one, so Readies are carried out in order.
 */
export interface ReadySource<R> {
  hasReady(): boolean;
  ready(): R;
  advance(): void;
}

export class ReadyLoop<R> {
  private flushing = false;

  constructor(private readonly machine: ReadySource<R>, private readonly carryOut: (ready: R) => void) {}

  /** Carries out every pending Ready; a call from inside a carry-out returns at once. */
  flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.machine.hasReady()) {
        const ready = this.machine.ready();
        this.machine.advance();
        this.carryOut(ready);
      }
    } finally {
      this.flushing = false;
    }
  }
}
