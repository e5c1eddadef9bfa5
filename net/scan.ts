/**
 * One shard's part of a client scan: asks its leader for pages of the range, each starting
 * just after the last key of the one before, until a page says `more: false`.
 */
import { decodeScanPage, percentEncode, type Topology } from '../protocol/index.ts';
import { ClientError } from './errors.ts';
import { expectStatus, type Exchange } from './response.ts';
import type { TransportResponse } from './transport.ts';

export interface ScanOptions {
  gt?: Uint8Array | string;
  gte?: Uint8Array | string;
  lt?: Uint8Array | string;
  lte?: Uint8Array | string;
  /** At most this many entries in all, across shards. */
  limit?: number;
}

type Send = (exchange: Exchange) => Promise<TransportResponse>;

const encoder = new TextEncoder();

export async function* scanShard(send: Send, shard: string, options: ScanOptions, pageEntries: number): AsyncGenerator<[Uint8Array, Uint8Array]> {
  const upper = bound('lt', options.lt) ?? bound('lte', options.lte);
  let lower = bound('gt', options.gt) ?? bound('gte', options.gte);
  // No shard can contribute more than the whole scan's limit.
  const pageSize = Math.max(1, Math.min(pageEntries, options.limit ?? Infinity));
  for (;;) {
    const query = [lower, upper, `limit=${pageSize}`, 'encoding=base64'].filter(Boolean).join('&');
    const res = await send({ method: 'GET', path: `/kv?${query}`, target: (t) => leaderOf(t, shard) });
    expectStatus(res, 200);
    const page = decodeScanPage(res.body);
    yield* page.entries;
    const last = page.entries.at(-1);
    if (!page.more || !last) return;
    lower = `gt=${percentEncode(last[0])}`;
  }
}

function bound(name: string, value: Uint8Array | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return `${name}=${percentEncode(typeof value === 'string' ? encoder.encode(value) : value)}`;
}

function leaderOf(topology: Topology, shard: string): string {
  const info = topology.shard(shard);
  if (!info) throw new ClientError('UNAVAILABLE', `shard ${JSON.stringify(shard)} left the topology during a scan; scan again`);
  return info.leader;
}
