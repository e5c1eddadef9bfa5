/**
 * The HTTP side of resharding (docs/resharding.md): the operator's shard add and remove, which
 * any node passes to the control plane, and the stream a giving shard's leader serves the
 * receiving shard's leader.
 *
 *   POST /admin/shard/add          {"name": "s3", "members": ["host:port", …]}: start moving keys to a new shard
 *   POST /admin/shard/remove       {"name": "s3"}: start moving a shard's keys to the others
 *   GET  /internal/migration/stream?id=&receiver=&from=   the moving keys (frame-format.ts)
 */
import { canonicalAddress } from '../protocol/address.ts';
import { ClusterError } from '../protocol/errors.ts';
import { jsonBody, STREAM_CONTENT_TYPE } from './api-replication.ts';
import type { Metadata } from './control/metadata.ts';
import type { Handler } from './handler.ts';
import { sendJson } from './http-response.ts';
import type { RouteKind } from './routes.ts';

type MigrationRouteKind = Extract<RouteKind, 'migration-stream' | 'shard-add' | 'shard-remove'>;

export const MIGRATION_HANDLERS: { readonly [K in MigrationRouteKind]: Handler<K> } = {
  'migration-stream': ({ replication }, { res, context }, route) => replication.serveMigration(res, route, () => {
    res.writeHead(200, { 'Content-Type': STREAM_CONTENT_TYPE, 'X-Shard': context.shard ?? '', 'X-Term': String(context.term ?? 0), 'X-Version': String(context.version), 'Cache-Control': 'no-store' });
    res.flushHeaders();
  }),
  'shard-add': async ({ replication }, ex) => {
    const request = await jsonBody(ex) as { name?: unknown; members?: unknown };
    if (typeof request.name !== 'string' || !Array.isArray(request.members) || !request.members.every((m) => typeof m === 'string')) {
      throw new ClusterError('BAD_REQUEST', 'a shard add is {"name": "s3", "members": ["host:port", …]} (the first member leads)');
    }
    const members = (request.members as string[]).map((m) => canonicalAddress(m) ?? badAddress(m));
    sendJson(ex.res, 200, summary(await replication.proposeAdmin({ type: 'shard-add', shard: request.name, members })), ex.context);
  },
  'shard-remove': async ({ replication }, ex) => {
    const request = await jsonBody(ex) as { name?: unknown };
    if (typeof request.name !== 'string') throw new ClusterError('BAD_REQUEST', 'a shard remove is {"name": "s3"}');
    sendJson(ex.res, 200, summary(await replication.proposeAdmin({ type: 'shard-remove', shard: request.name })), ex.context);
  },
};

function badAddress(text: string): never {
  throw new ClusterError('BAD_REQUEST', `a member must be host:port, got ${JSON.stringify(text.slice(0, 100))}`);
}

function summary(metadata: Metadata): Record<string, unknown> {
  return { version: metadata.version, ring: metadata.ring, migration: metadata.migration };
}
