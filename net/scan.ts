/**
 * One shard's part of a client scan: asks its leader (or, for a replica read, one of its
 * replicas, with `read=replica` and the least sequence number it must have applied) for pages of
 * the range, each starting just after the last key of the one before, until a page says
 * `more: false`.
 */
import { percentEncode } from '../protocol/percent.ts';
import { decodeScanPage } from '../protocol/scan-codec.ts';
import type { Topology } from '../protocol/topology.ts';
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
  /** Where the pages are read: each shard's leader (default), or one of its replicas. */
  readFrom?: 'leader' | 'replica';
  /** A replica read waits until the replica has applied this sequence number (client.ts ReadOptions). */
  minSeq?: number;
}

type Send = (exchange: Exchange) => Promise<TransportResponse>;

const encoder = new TextEncoder();

export async function* scanShard(send: Send, shard: string, options: ScanOptions, pageEntries: number, replica?: { minSeq: number | undefined }): AsyncGenerator<[Uint8Array, Uint8Array]> {
  const upper = bound('lt', options.lt) ?? bound('lte', options.lte);
  let lower = bound('gt', options.gt) ?? bound('gte', options.gte);
  // No shard can contribute more than the whole scan's limit.
  const pageSize = Math.max(1, Math.min(pageEntries, options.limit ?? Infinity));
  const read = replica ? ['read=replica', replica.minSeq === undefined ? '' : `min_seq=${replica.minSeq}`] : [];
  for (;;) {
    const query = [lower, upper, `limit=${pageSize}`, 'encoding=base64', ...read].filter(Boolean).join('&');
    const res = await send({ method: 'GET', path: `/kv?${query}`, target: (t) => (replica ? replicaOf(t, shard) : leaderOf(t, shard)) });
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
  return shardOf(topology, shard).leader;
}

/** One of the shard's replicas (its leader when it has none); any one will do. */
function replicaOf(topology: Topology, shard: string): string {
  const { leader, replicas } = shardOf(topology, shard);
  return replicas.length === 0 ? leader : replicas[Math.floor(Math.random() * replicas.length)]!;
}

function shardOf(topology: Topology, shard: string) {
  const info = topology.shard(shard);
  if (!info) throw new ClientError('UNAVAILABLE', `shard ${JSON.stringify(shard)} left the topology during a scan; scan again`);
  return info;
}
