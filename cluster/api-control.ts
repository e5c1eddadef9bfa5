/**
 * The HTTP side of the control plane's internal routes (docs/control-plane.md): parse, call the
 * node's ControlPlane, answer. A node that is not a controller answers NOT_CONTROLLER, naming
 * the controllers in the message; a controller that does not lead names the leader it knows in
 * the X-Controller-Leader header, which nodes follow.
 *
 *   POST /internal/raft              a batch of Raft messages from another controller
 *   GET  /internal/meta              the committed metadata, once its version passes `after` (long-poll)
 *   POST /internal/control/propose   {command, from}: commit a metadata command
 *   POST /internal/control/lease     {shard, node, term}: a shard leader's lease
 *   GET  /internal/control           this controller's Raft status
 */
import { ClusterError, NotControllerError } from '../protocol/errors.ts';
import { jsonBody } from './api-replication.ts';
import type { ControlPlane } from './control/control-plane.ts';
import { decodeCommand } from './control/metadata-machine.ts';
import { body } from './exchange.ts';
import type { Handler } from './handler.ts';
import { sendJson, sendNoContent } from './http-response.ts';
import { RAFT_BODY_BYTES_MAX } from './limits.ts';
import type { RouteKind } from './routes.ts';

type ControlRouteKind = Extract<RouteKind, 'raft-messages' | 'meta-watch' | 'control-propose' | 'control-lease' | 'control-status'>;

const encoder = new TextEncoder();

export const CONTROL_HANDLERS: { readonly [K in ControlRouteKind]: Handler<K> } = {
  'raft-messages': async (api, ex) => {
    const control = controllerOf(api.control, api.state().address);
    const payload = await body(ex, RAFT_BODY_BYTES_MAX, 'BODY_TOO_LARGE', 'raft payload');
    try {
      control.receive(payload);
    } catch (error) {
      throw new ClusterError('BAD_REQUEST', `raft payload refused: ${(error as Error).message}`, { cause: error });
    }
    sendNoContent(ex.res, 0, ex.context);
  },
  'meta-watch': async (api, { res, context }, route) => {
    const control = controllerOf(api.control, api.state().address);
    sendJson(res, 200, await control.watch(route.after, route.waitMs), context);
  },
  'control-propose': async (api, ex) => {
    const control = controllerOf(api.control, api.state().address);
    const request = await jsonBody(ex) as { command?: unknown; from?: unknown };
    if (request.from !== undefined && typeof request.from !== 'string') throw new ClusterError('BAD_REQUEST', '"from" must be the proposing node\'s "host:port"');
    let command;
    try {
      command = decodeCommand(encoder.encode(JSON.stringify(request.command ?? null)));
    } catch (error) {
      throw new ClusterError('BAD_REQUEST', `not a metadata command: ${(error as Error).message}`);
    }
    sendJson(ex.res, 200, await control.propose(command, request.from), ex.context);
  },
  'control-lease': async (api, ex) => {
    const control = controllerOf(api.control, api.state().address);
    const request = await jsonBody(ex) as { shard?: unknown; node?: unknown; term?: unknown };
    if (typeof request.shard !== 'string' || typeof request.node !== 'string' || !Number.isSafeInteger(request.term)) {
      throw new ClusterError('BAD_REQUEST', 'a lease request is {"shard": name, "node": "host:port", "term": n}');
    }
    const leaseMs = await control.grantLease(request.shard, request.node, request.term as number);
    sendJson(ex.res, 200, { leaseMs }, ex.context);
  },
  'control-status': (api, { res, context }) => sendJson(res, 200, controllerOf(api.control, api.state().address).status(), context),
};

function controllerOf(control: ControlPlane | undefined, address: string): ControlPlane {
  if (control) return control;
  throw new NotControllerError(`${address} is not a controller; ask one of cluster.controllers`, undefined);
}
