/**
 * The HTTP side of replication's internal and admin routes: parse the JSON body, call the
 * replication controller, write its answer. No replication rules live here; docs/api.md and
 * docs/replication.md describe each route.
 *
 *   GET  /internal/replication/stream   a follower's log stream (frame-format.ts)
 *   POST /internal/replication/ack      a follower's position report
 *   GET  /internal/topology             this node's topology and epoch history
 *   POST /internal/topology             a newer topology (after a promotion)
 *   POST /internal/anti-entropy/digest  range digests at a checkpoint (follower)
 *   POST /internal/anti-entropy/hashes  (key, value hash) of a range at a checkpoint (follower)
 *   POST /admin/promote                 make this replica the leader under epoch + 1
 *   POST /admin/anti-entropy            run an anti-entropy pass now (leader)
 */
import { ClusterError } from '../protocol/errors.ts';
import { INTERNAL_BODY_BYTES_MAX } from './limits.ts';
import { body, type Exchange } from './exchange.ts';
import { sendJson, sendNoContent } from './http-response.ts';
import type { Handler } from './handler.ts';
import type { RouteKind } from './routes.ts';

type ReplicationRouteKind = Extract<RouteKind, 'replication-stream' | 'replication-ack' | 'topology-get' | 'topology-put' | 'anti-entropy-digest' | 'anti-entropy-hashes' | 'promote' | 'anti-entropy-run'>;

/** Content type of the replication stream. */
export const STREAM_CONTENT_TYPE = 'application/vnd.distribkv.replication';

/** The handlers of the replication routes, merged into api.ts's table. */
export const REPLICATION_HANDLERS: { readonly [K in ReplicationRouteKind]: Handler<K> } = {
  'replication-stream': ({ replication }, { res, context }, route) => replication.serveStream(res, route, () => {
    res.writeHead(200, { 'Content-Type': STREAM_CONTENT_TYPE, 'X-Shard': context.shard, 'X-Epoch': String(context.epoch), 'Cache-Control': 'no-store' });
    res.flushHeaders();
  }),
  'replication-ack': async ({ replication, store }, ex) => {
    const report = await jsonBody(ex) as { node?: unknown; epoch?: unknown; applied?: unknown; checkpoint?: unknown };
    if (typeof report.node !== 'string' || !isSeq(report.epoch) || !isSeq(report.applied) || !(report.checkpoint === null || report.checkpoint === undefined || isSeq(report.checkpoint))) {
      throw new ClusterError('BAD_REQUEST', 'a report is {"node": "host:port", "epoch": n, "applied": n, "checkpoint": n | null}');
    }
    replication.report(report.node, report.epoch, report.applied, report.checkpoint ?? undefined);
    sendNoContent(ex.res, store.lastSequence, ex.context);
  },
  'topology-get': ({ replication }, { res, context }) => sendJson(res, 200, replication.topologyDocument(), context),
  'topology-put': async ({ replication }, ex) => {
    const doc = await jsonBody(ex) as { topology?: unknown; history?: unknown };
    const adopted = await replication.adopt({ topology: doc.topology, history: doc.history ?? [] }, `POST /internal/topology from ${ex.req.socket.remoteAddress ?? 'unknown'}`);
    sendJson(ex.res, 200, { adopted, epoch: replication.nodeState.topology.epoch }, ex.context);
  },
  'anti-entropy-digest': async ({ replication }, ex) => sendJson(ex.res, 200, await replication.antiEntropyDigest(await jsonBody(ex)), ex.context),
  'anti-entropy-hashes': async ({ replication }, ex) => sendJson(ex.res, 200, await replication.antiEntropyHashes(await jsonBody(ex)), ex.context),
  promote: async ({ replication }, { res, context }, route) => sendJson(res, 200, await replication.promote(route.force), context),
  'anti-entropy-run': async ({ replication }, { res, context }) => sendJson(res, 200, await replication.antiEntropy(), context),
};

async function jsonBody(ex: Exchange): Promise<unknown> {
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
