/**
 * What a node says about itself: the `GET /healthz` body (public: alive, ready, role) and the
 * `GET /internal/state` body (admin: where it stands in its shard's log, replication, the control
 * plane, its engine's size, its data requests' running totals, uptime). api.ts serves them; the
 * dashboard's overview (api-dashboard.ts) uses them for the node that serves it.
 */
import type { ApiOptions } from './handler.ts';

export function healthBody(api: ApiOptions): Record<string, unknown> {
  const state = api.state();
  return {
    status: 'ok', ...api.replication.readiness(), node: state.address, shard: state.shard?.name ?? null, role: state.role, term: state.shard?.term ?? null, version: state.topology.version,
  };
}

export function stateBody(api: ApiOptions): Record<string, unknown> {
  const state = api.state();
  const metadata = api.metadata();
  return {
    node: state.address, shard: state.shard?.name ?? null, role: state.role, term: state.shard?.term ?? null, version: state.topology.version,
    lastSequence: api.store.lastSequence, uptimeMs: Math.round(process.uptime() * 1000), ...api.status(), ...api.metrics.summary(),
    // Who else to ask about the cluster: `kv status` and the dashboard list every node.
    nodes: { controllers: api.controllers, unassigned: metadata.unassigned },
    replication: api.replication.status(), control: api.control?.status() ?? null,
  };
}
