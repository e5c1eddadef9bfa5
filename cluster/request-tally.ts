/**
 * Running totals of the node's data requests (GET, PUT, DELETE of keys, scans, batches) for
 * `/internal/state`'s `requests`: how many, how many failed with a 5xx, and a latency histogram
 * on the same buckets as /metrics. A reader takes two samples and divides the differences by the
 * time between them: the dashboard's throughput and latency per node. Node-to-node routes are
 * left out: a replication stream or a metadata long-poll lasts seconds and would drown the figures.
 *
 * Pure counting, on the event loop; one add and one short bucket walk per request.
 */

/** Route templates (routes.ts) that clients' data requests use. */
const DATA_ROUTES: ReadonlySet<string> = new Set(['/kv/{key}', '/kv', '/batch']);

export interface RequestTotals {
  /** Data requests answered since the node started. */
  count: number;
  /** Of them, answered with a 5xx status. */
  errors: number;
  /** Their summed latency. */
  seconds: number;
  /** Upper bounds of the latency buckets, seconds; the last bucket (above the last bound) is implied. */
  bounds: readonly number[];
  /** Requests per bucket (not cumulative): `counts[i]` took at most `bounds[i]` and more than the bound before; one more entry for the rest. */
  counts: number[];
}

export class RequestTally {
  private readonly totals: RequestTotals;

  constructor(bounds: readonly number[]) {
    this.totals = { count: 0, errors: 0, seconds: 0, bounds, counts: new Array<number>(bounds.length + 1).fill(0) };
  }

  /** Counts one finished request if `route` is a data route. */
  observe(route: string, status: number, seconds: number): void {
    if (!DATA_ROUTES.has(route)) return;
    const t = this.totals;
    t.count++;
    if (status >= 500) t.errors++;
    t.seconds += seconds;
    let i = 0;
    while (i < t.bounds.length && seconds > t.bounds[i]!) i++;
    t.counts[i]!++;
  }

  /** A copy of the totals now. */
  snapshot(): RequestTotals {
    return { ...this.totals, counts: [...this.totals.counts] };
  }
}
