/**
 * The HTTP side of replication's internal and admin routes: parse the JSON body, call the
 * replication controller, write its answer. No replication rules live here; docs/api.md and
 * docs/replication.md describe each route.
 *
 *   GET  /internal/replication/stream   a follower's log stream (frame-format.ts)
 *   POST /internal/replication/ack      a follower's position report
 *   POST /internal/anti-entropy/digest  range digests at a checkpoint (follower)
 *   POST /internal/anti-entropy/hashes  (key, value hash) of a range at a checkpoint (follower)
 *   POST /admin/promote                 propose this node as its shard's leader (the control plane elects)
 *   POST /admin/transfer                hand this leader's shard over to an in-sync follower
 *   POST /admin/anti-entropy            run an anti-entropy pass now (leader)
 */
import { ClusterError } from '../protocol/errors.ts';
import { INTERNAL_BODY_BYTES_MAX } from './limits.ts';
import { body, type Exchange } from './exchange.ts';
import { sendJson, sendNoContent } from './http-response.ts';
import type { Handler } from './handler.ts';
import type { RouteKind } from './routes.ts';

type ReplicationRouteKind = Extract<RouteKind, 'replication-stream' | 'replication-ack' | 'anti-entropy-digest' | 'anti-entropy-hashes' | 'promote' | 'transfer' | 'anti-entropy-run'>;

/** Content type of the replication stream. */
export const STREAM_CONTENT_TYPE = 'application/vnd.distribkv.replication';

/** The handlers of the replication routes, merged into api.ts's table. */
export const REPLICATION_HANDLERS: { readonly [K in ReplicationRouteKind]: Handler<K> } = {
  'replication-stream': ({ replication }, { res, context }, route) => replication.serveStream(res, route, () => {
    res.writeHead(200, { 'Content-Type': STREAM_CONTENT_TYPE, 'X-Shard': context.shard ?? '', 'X-Term': String(context.term ?? 0), 'X-Version': String(context.version), 'Cache-Control': 'no-store' });
    res.flushHeaders();
  }),
  'replication-ack': async ({ replication, store }, ex) => {
    const report = await jsonBody(ex) as { node?: unknown; term?: unknown; applied?: unknown; checkpoint?: unknown };
    if (typeof report.node !== 'string' || !isSeq(report.term) || !isSeq(report.applied) || !(report.checkpoint === null || report.checkpoint === undefined || isSeq(report.checkpoint))) {
      throw new ClusterError('BAD_REQUEST', 'a report is {"node": "host:port", "term": n, "applied": n, "checkpoint": n | null}');
    }
    replication.report(report.node, report.term, report.applied, report.checkpoint ?? undefined);
    sendNoContent(ex.res, store.lastSequence, ex.context);
  },
  'anti-entropy-digest': async ({ replication }, ex) => sendJson(ex.res, 200, await replication.antiEntropyDigest(await jsonBody(ex)), ex.context),
  'anti-entropy-hashes': async ({ replication }, ex) => sendJson(ex.res, 200, await replication.antiEntropyHashes(await jsonBody(ex)), ex.context),
  promote: async ({ replication }, { res, context }, route) => sendJson(res, 200, await replication.promote(route.unclean), context),
  transfer: async ({ replication }, { res, context }, route) => sendJson(res, 200, await replication.transfer(route.to), context),
  'anti-entropy-run': async ({ replication }, { res, context }) => sendJson(res, 200, await replication.antiEntropy(), context),
};

export async function jsonBody(ex: Exchange): Promise<unknown> {
  const bytes = await body(ex, INTERNAL_BODY_BYTES_MAX, 'BODY_TOO_LARGE', 'internal request body');
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (value === null || typeof value !== 'object') throw new Error('not a JSON object');
    return value;
  } catch (error) {
    throw new ClusterError('BAD_REQUEST', `internal request body is not a JSON object: ${(error as Error).message}`, { cause: error });
  }
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
