/**
 * A Transport that remembers who answered: it passes every request to an inner transport
 * (the real HttpTransport by default) and keeps the last answer to a write (PUT, DELETE or
 * POST on /kv or /batch) with the address it came from. The routing client follows redirects
 * and fetches /cluster behind the caller's back, so "which node acknowledged this write, at
 * which term" is only visible at this seam: after `client.put` resolves, `lastWrite` is the
 * 204 that resolved it (its `X-Term`, `X-Shard`, `X-Seq`), and the node that sent it.
 *
 * Concurrency: one client per RecordingTransport, one write at a time through it (what a
 * workload worker does); with writes in parallel `lastWrite` is only the latest to arrive.
 *
 * @example
 * ```ts
 * const recorder = new RecordingTransport(new HttpTransport({ requestTimeoutMs: 4000, responseBytesMax: 1 << 20, socketsPerNodeMax: 4 }));
 * const client = await Client.connect(seeds, { transport: recorder, retriesMax: 0 });
 * await client.put('k', 'v', { acks: 'all' });
 * recorder.lastWrite;   // { address: '127.0.0.1:7002', status: 204, term: 3, shard: 'shard-1', … }
 * ```
 */
import type { StreamRequest, Transport, TransportRequest, TransportResponse, TransportStream } from '../../net/transport.ts';

/** One answer to a write, as it arrived. */
export interface AnsweredWrite {
  /** The node that answered (the last hop, after redirects). */
  address: string;
  status: number;
  /** `X-Term`, `X-Shard`, `X-Seq`; undefined where the header was missing. */
  term: number | undefined;
  shard: string | undefined;
  seq: number | undefined;
}

const WRITE_PATH = /^\/(kv\/|batch(\?|$))/;

export class RecordingTransport implements Transport {
  private readonly inner: Transport;
  private last: AnsweredWrite | undefined;

  constructor(inner: Transport) {
    this.inner = inner;
  }

  /** The last answer to a write; undefined until one arrived or after `forget()`. */
  get lastWrite(): AnsweredWrite | undefined {
    return this.last;
  }

  /** Clears `lastWrite`, so the next write's answer cannot be mistaken for an older one. */
  forget(): void {
    this.last = undefined;
  }

  async request(address: string, request: TransportRequest): Promise<TransportResponse> {
    const response = await this.inner.request(address, request);
    if (request.method !== 'GET' && WRITE_PATH.test(request.path)) this.last = answered(address, response);
    return response;
  }

  stream(address: string, request: StreamRequest): Promise<TransportStream> {
    return this.inner.stream(address, request);
  }

  close(): void {
    this.inner.close();
  }
}

function answered(address: string, response: TransportResponse): AnsweredWrite {
  return {
    address,
    status: response.status,
    term: numberHeader(response.headers['x-term']),
    shard: response.headers['x-shard'],
    seq: numberHeader(response.headers['x-seq']),
  };
}

function numberHeader(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isSafeInteger(n) ? n : undefined;
}
