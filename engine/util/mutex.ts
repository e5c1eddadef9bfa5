/**
 * An async mutex: `run(fn)` waits for every earlier holder, then runs fn alone. Used so that
 * flushes, background compactions and manual compactions never edit the LSM shape at once.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** Lets the event loop serve I/O and timers before going on. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
