/**
 * Pipelined requests are served one at a time per connection, in the order they arrived
 * (RFC 9112 §9.3.2). Node parses every request a client pipelines and emits them all at
 * once; it orders the responses, but not the work: a bodyless DELETE would reach the write
 * queue before the PUT ahead of it, which is still reading its body, and the key would
 * survive both 204s. Here a request starts only once the one before it on its connection
 * has answered (its response closed).
 *
 * A connection may hold at most `waitingMax` requests waiting their turn; past that it is
 * cut, because Node keeps parsing a pipeline whose responses it cannot yet write, and each
 * parsed request holds memory.
 *
 * Concurrency: event loop only. `enter` and `leave` pair up for every request that started.
 */
import type { Socket } from 'node:net';

interface Turns {
  /** A request of this connection is being served. */
  busy: boolean;
  waiting: (() => void)[];
}

export class ConnectionOrder {
  private readonly turns = new WeakMap<Socket, Turns>();

  constructor(private readonly waitingMax: number) {}

  /**
   * Starts `start` now if no request of `socket` is being served, else queues it behind the
   * others. False (and nothing queued) when the connection already has `waitingMax` waiting.
   */
  enter(socket: Socket, start: () => void): boolean {
    let turns = this.turns.get(socket);
    if (!turns) this.turns.set(socket, (turns = { busy: false, waiting: [] }));
    if (!turns.busy) {
      turns.busy = true;
      start();
      return true;
    }
    if (turns.waiting.length >= this.waitingMax) return false;
    turns.waiting.push(start);
    return true;
  }

  /** The request being served on `socket` answered: start the next, unless the connection is gone. */
  leave(socket: Socket): void {
    const turns = this.turns.get(socket);
    if (!turns) return;
    // A connection closed, or closing after a `Connection: close` answer, serves nothing more.
    const next = socket.destroyed || !socket.writable ? undefined : turns.waiting.shift();
    if (!next) {
      turns.busy = false;
      turns.waiting.length = 0;
      return;
    }
    next();
  }
}
