/**
 * The network seam's in-memory twin (see transport.ts), for tests: nodes `listen` on addresses
 * of a MemoryNetwork with a handler, and any party gets a `transport(from)` that reaches them.
 * Faults come from the random source the test passes (a seeded one, e.g. engine/fs's
 * `seededRandom`, so a failing run replays): a latency per message drawn from a range,
 * a drop rate (the request is lost, the caller sees a ConnectionError), and partitions between
 * addresses (one way or both) that fail requests and cut open streams. No sockets; timers only
 * for the latency.
 */
import { ClientError, ConnectionError } from './errors.ts';
import type { StreamRequest, Transport, TransportRequest, TransportResponse, TransportStream } from './transport.ts';

/** What a handler answers: a whole response, or a streamed one. */
export type MemoryAnswer = TransportResponse | { status: number; headers: Record<string, string | undefined>; chunks: AsyncIterable<Uint8Array> };

export type MemoryHandler = (request: TransportRequest & { from: string }) => Promise<MemoryAnswer>;

export interface MemoryNetworkOptions {
  /** Uniform in [0, 1): seeded, so faults replay. */
  random: () => number;
  /** Delay of each message, drawn uniformly from [min, max] ms. Default [0, 0]. */
  latencyMs?: readonly [number, number];
  /** Fraction of requests lost, from 0 to 1. Default 0. */
  dropRate?: number;
}

export class MemoryNetwork {
  private readonly handlers = new Map<string, MemoryHandler>();
  /** `from>to` pairs that cannot talk. */
  private readonly cuts = new Set<string>();
  private readonly streams = new Set<{ from: string; to: string; cut(): void }>();
  private readonly random: () => number;
  private latency: readonly [number, number];
  private dropRate: number;
  /** Requests delivered and lost, for tests that check the faults happened. */
  readonly counts = { delivered: 0, dropped: 0, refused: 0, cut: 0 };

  constructor(options: MemoryNetworkOptions) {
    this.random = options.random;
    this.latency = options.latencyMs ?? [0, 0];
    this.dropRate = options.dropRate ?? 0;
  }

  /** Serves `address` with `handler`; returns a function that stops serving it. */
  listen(address: string, handler: MemoryHandler): () => void {
    this.handlers.set(address, handler);
    return () => {
      if (this.handlers.get(address) === handler) this.handlers.delete(address);
    };
  }

  /** `from` can no longer reach `to` (and, unless `oneWay`, the reverse). Open streams between them break. */
  partition(a: string, b: string, oneWay = false): void {
    this.cuts.add(`${a}>${b}`);
    if (!oneWay) this.cuts.add(`${b}>${a}`);
    for (const s of [...this.streams]) if (!this.reaches(s.from, s.to) || !this.reaches(s.to, s.from)) s.cut();
  }

  /** Every partition is gone. */
  heal(): void {
    this.cuts.clear();
  }

  setFaults(faults: { latencyMs?: readonly [number, number]; dropRate?: number }): void {
    this.latency = faults.latencyMs ?? this.latency;
    this.dropRate = faults.dropRate ?? this.dropRate;
  }

  reaches(from: string, to: string): boolean {
    return !this.cuts.has(`${from}>${to}`);
  }

  /** A Transport for a party at `from` (a node's address, or any name for a client). */
  transport(from: string, options: { responseBytesMax?: number } = {}): Transport {
    return {
      request: (address, request) => this.request(from, address, request, options.responseBytesMax ?? Infinity),
      stream: (address, request) => this.stream(from, address, request),
      close: () => undefined,
    };
  }

  private async request(from: string, to: string, request: TransportRequest, bytesMax: number): Promise<TransportResponse> {
    const answer = await this.deliver(from, to, request);
    if ('chunks' in answer) throw new Error(`memory network: ${to} answered ${request.path} with a stream; use stream()`);
    if (answer.body.length > bytesMax) throw new ClientError('BAD_RESPONSE', `${to}: response over ${bytesMax} bytes`);
    await this.delay();
    if (!this.reaches(to, from)) throw this.lost(to, 'the response was lost (partition)');
    return answer;
  }

  private async stream(from: string, to: string, request: StreamRequest): Promise<TransportStream> {
    const answer = await this.deliver(from, to, request);
    await this.delay();
    if (!this.reaches(to, from)) throw this.lost(to, 'the response was lost (partition)');
    if (!('chunks' in answer)) return { status: answer.status, headers: answer.headers, chunks: once(answer.body), close: () => undefined };
    let closed = false;
    let broken = false;
    const entry = { from, to, cut: () => { broken = true; } };
    this.streams.add(entry);
    const source = answer.chunks[Symbol.asyncIterator]();
    const network = this;
    const chunks: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            const next = await source.next();
            if (closed || next.done) return;
            if (broken) {
              network.counts.cut++;
              throw new ConnectionError(to, 'stream cut off (partition)');
            }
            yield next.value;
          }
        } finally {
          network.streams.delete(entry);
          await source.return?.();
        }
      },
    };
    return { status: answer.status, headers: answer.headers, chunks, close: () => { closed = true; void source.return?.(); } };
  }

  /** The request reaches its handler after a latency, unless it is lost on the way. */
  private async deliver(from: string, to: string, request: TransportRequest): Promise<MemoryAnswer> {
    await this.delay();
    if (!this.reaches(from, to)) throw this.lost(to, 'no route (partition)');
    if (this.random() < this.dropRate) {
      this.counts.dropped++;
      throw this.lost(to, 'the request was lost');
    }
    const handler = this.handlers.get(to);
    if (!handler) {
      this.counts.refused++;
      throw new ConnectionError(to, 'connect ECONNREFUSED (nothing listens there)');
    }
    this.counts.delivered++;
    return handler({ ...request, from });
  }

  private lost(to: string, why: string): ConnectionError {
    return new ConnectionError(to, why);
  }

  private delay(): Promise<void> {
    const [min, max] = this.latency;
    const ms = min + (max - min) * this.random();
    return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
  }
}

async function* once(body: Uint8Array): AsyncIterable<Uint8Array> {
  if (body.length > 0) yield body;
}
