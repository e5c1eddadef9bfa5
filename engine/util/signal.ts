/**
 * A condition variable for one event loop: waiters park on `wait()` and are all woken by
 * `notifyAll()`. Callers re-check their condition after waking, as with any condition variable.
 */
export class Signal {
  private waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notifyAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
