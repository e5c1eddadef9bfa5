/**
 * Cuts connections whose reader stopped reading (issue 16, finding 4). Node times out a
 * request that is slow to arrive, but nothing times out a response that is slow to leave: a
 * replication stream, or a large GET, whose client stops reading keeps its socket, its
 * serving slot or stream place, and (for a stream) an engine snapshot and a retention pin,
 * forever. An idle timeout would not do: a request may wait a long time quietly (an acks=all
 * write), and a stream sends heartbeats whether or not anyone reads them.
 *
 * So: every WRITE_STALL_CHECK_INTERVAL_MS, each connection with bytes waiting to be written
 * is checked for progress; one whose written bytes have not moved for `stallMsMax` is
 * destroyed, which closes its response (leader.ts ends the stream on 'close').
 *
 * Progress is measured per write call: `bytesWritten - writableLength` moves when a whole
 * write has reached the kernel. A single write larger than what a slow reader takes in
 * `stallMsMax` (16 MiB at 0.5 MiB/s, for 30 s) is cut too; that is the price of using only
 * Node's public socket fields.
 *
 * Concurrency: event loop only; the timer is unref'd and stopped by `stop()`.
 */
import type { Socket } from 'node:net';
import { WRITE_STALL_CHECK_INTERVAL_MS } from './limits.ts';

interface Progress {
  /** Bytes of completed writes when last seen moving. */
  flushed: number;
  sinceMs: number;
}

export class WriteStallWatch {
  private readonly sockets = new Set<Socket>();
  private readonly progress = new Map<Socket, Progress>();
  private timer: NodeJS.Timeout | undefined;

  /** `onStall` is told of each connection cut, for the log. */
  constructor(private readonly stallMsMax: number, private readonly onStall: (socket: Socket, stalledMs: number) => void) {}

  /** Watches a new connection until it closes. */
  add(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.progress.delete(socket);
    });
    this.timer ??= setInterval(() => this.check(performance.now()), Math.min(WRITE_STALL_CHECK_INTERVAL_MS, this.stallMsMax)).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over the connections; exported through the class for tests that drive time. */
  check(nowMs: number): void {
    for (const socket of this.sockets) {
      const pending = socket.writableLength;
      if (pending === 0 || socket.destroyed) {
        this.progress.delete(socket);
        continue;
      }
      const flushed = socket.bytesWritten - pending;
      const seen = this.progress.get(socket);
      if (!seen || seen.flushed !== flushed) {
        this.progress.set(socket, { flushed, sinceMs: nowMs });
        continue;
      }
      if (nowMs - seen.sinceMs >= this.stallMsMax) {
        this.progress.delete(socket);
        this.onStall(socket, nowMs - seen.sinceMs);
        socket.destroy();
      }
    }
  }
}
