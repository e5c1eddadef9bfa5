/**
 * A TCP proxy on loopback for partition tests: it listens on one address and forwards every
 * connection to a target, and can be told to misbehave:
 *   - `cut()`: destroy every open connection now (a network blip; new ones still pass);
 *   - `partition()`: destroy every open connection and refuse (reset) new ones until `heal()`;
 *   - `blackhole()`: accept connections and reads, but forward nothing, until `heal()` —
 *     the peer sees a silent network, not a refused one;
 *   - `delay(ms)`: hold every chunk `ms` milliseconds before forwarding it (in order);
 *   - `shape(shaper)`: per connection, by the address it came from, add a delay and a chance
 *     that a chunk stalls (`LinkShape`); the host harness's relays use it (test/hosts/relay.ts).
 * A chunk is due `delay` after it arrived and is forwarded at that time or, to keep the order,
 * right after the chunk before it: a delay adds latency, not a cap on throughput.
 * Counters say how many connections and bytes passed, so a test can check the proxy was used.
 */
import * as net from 'node:net';

export type ProxyMode = 'pass' | 'partition' | 'blackhole';

/** How the traffic of one connection is shaped, both ways. */
export interface LinkShape {
  /** Added to every chunk. */
  delayMs: number;
  /**
   * Chance that a chunk is held `stallMs` longer, with every chunk behind it: what losing a
   * segment costs a TCP connection (a retransmission after a timeout, head-of-line blocked).
   * Bytes are never dropped from the stream; that would be corruption, not loss.
   */
  lossChance: number;
  stallMs: number;
}

/** Picks the shape of a connection from its client's address; undefined: not shaped. */
export type Shaper = (clientAddress: string) => LinkShape | undefined;

export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private mode: ProxyMode = 'pass';
  private delayMs = 0;
  private shaper: Shaper | undefined;
  private random: () => number = Math.random;
  connections = 0;
  bytesForwarded = 0;
  /** Bytes swallowed by a blackhole. */
  bytesDropped = 0;
  /** Chunks held back by a shape's delay, and chunks stalled by its loss. */
  chunksDelayed = 0;
  chunksStalled = 0;

  private constructor(
    private readonly target: { host: string; port: number },
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Starts a proxy on `listen` (port 0 picks a free one) forwarding to `target`. */
  static async start(listen: { host: string; port: number }, target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(listen.port, listen.host, () => resolve());
    });
    return proxy;
  }

  get address(): { host: string; port: number } {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  partition(): void {
    this.mode = 'partition';
    this.cut();
  }

  blackhole(): void {
    this.mode = 'blackhole';
  }

  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Shapes every connection by its client's address (undefined: stop shaping); `random` draws the losses. */
  shape(shaper: Shaper | undefined, random: () => number = Math.random): void {
    this.shaper = shaper;
    this.random = random;
  }

  heal(): void {
    this.mode = 'pass';
    this.delayMs = 0;
    this.shaper = undefined;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'partition') {
      client.resetAndDestroy();
      return;
    }
    this.connections++;
    const upstream = net.connect(this.target.port, this.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
    const source = client.remoteAddress ?? '';
    this.pipe(client, upstream, source);
    this.pipe(upstream, client, source);
  }

  /** Forwards `from` to `to`, honouring blackhole, delay and the shape, keeping chunk order. */
  private pipe(from: net.Socket, to: net.Socket, source: string): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole') {
        this.bytesDropped += chunk.length;
        return;
      }
      const due = performance.now() + this.holdMs(source);
      chain = chain.then(async () => {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.mode === 'blackhole' || to.destroyed) return;
        this.bytesForwarded += chunk.length;
        to.write(chunk);
      });
    });
  }

  /** How long a chunk from a connection of `source` is held: the global delay plus its shape. */
  private holdMs(source: string): number {
    const shape = this.shaper?.(source);
    if (!shape) return this.delayMs;
    let hold = this.delayMs + shape.delayMs;
    if (shape.delayMs > 0) this.chunksDelayed++;
    if (shape.lossChance > 0 && this.random() < shape.lossChance) {
      this.chunksStalled++;
      hold += shape.stallMs;
    }
    return hold;
  }
}
