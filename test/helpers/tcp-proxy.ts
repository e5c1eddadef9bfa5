/**
 * A TCP proxy on loopback for partition tests: it listens on one address and forwards every
 * connection to a target, and can be told to misbehave:
 *   - `cut()`: destroy every open connection now (a network blip; new ones still pass);
 *   - `partition()`: destroy every open connection and refuse (reset) new ones until `heal()`;
 *   - `blackhole()`: accept connections and reads, but forward nothing, until `heal()` —
 *     the peer sees a silent network, not a refused one;
 *   - `delay(ms)`: hold every chunk `ms` milliseconds before forwarding it (in order).
 * Counters say how many connections and bytes passed, so a test can check the proxy was used.
 */
import * as net from 'node:net';

export type ProxyMode = 'pass' | 'partition' | 'blackhole';

export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private mode: ProxyMode = 'pass';
  private delayMs = 0;
  connections = 0;
  bytesForwarded = 0;
  /** Bytes swallowed by a blackhole. */
  bytesDropped = 0;

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

  heal(): void {
    this.mode = 'pass';
    this.delayMs = 0;
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
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Forwards `from` to `to`, honouring blackhole and delay, keeping chunk order. */
  private pipe(from: net.Socket, to: net.Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole') {
        this.bytesDropped += chunk.length;
        return;
      }
      const wait = this.delayMs;
      chain = chain.then(async () => {
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.mode === 'blackhole' || to.destroyed) return;
        this.bytesForwarded += chunk.length;
        to.write(chunk);
      });
    });
  }
}
