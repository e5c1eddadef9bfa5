/**
 * What a route handler is given (api.ts, api-replication.ts): the node's parts it may use,
 * the request as an Exchange, and the route the request parsed to.
 */
import type { AuthScope } from '../protocol/config.ts';
import type { ControlPlane } from './control/control-plane.ts';
import type { Metadata } from './control/metadata.ts';
import type { Limits } from '../protocol/limits.ts';
import type { Log } from './log.ts';
import type { EventLog } from './events.ts';
import type { Exchange } from './exchange.ts';
import type { Peers } from './peers.ts';
import type { NodeMetrics } from './metrics.ts';
import type { NodeState } from './node-state.ts';
import type { ReplicationController } from './replication/controller.ts';
import type { Route } from './request.ts';
import type { RouteKind } from './routes.ts';
import type { Store } from './store.ts';
import type { TurnQueue } from './turn-queue.ts';

export interface ApiOptions {
  store: Store;
  limits: Readonly<Limits>;
  /** Opens admin routes, and data routes under `auth = "all"`. */
  token: string | undefined;
  /** Opens /internal/ routes (config.internalToken, else the token). */
  internalToken: string | undefined;
  authScope: AuthScope;
  log: Log;
  /** Acks, leader and replica reads, and the internal and admin routes of replication. */
  replication: ReplicationController;
  /** The control plane, on a controller node; undefined elsewhere. */
  control: ControlPlane | undefined;
  /** The metadata this node knows (for its own watchers when it is not a controller). */
  metadata(): Metadata;
  /** The control plane's members (cluster.controllers). */
  controllers: readonly string[];
  /** Recent metadata changes and log lines, for GET /admin/events. */
  events: EventLog;
  /** Calls to other nodes, with the internal credential (the dashboard's overview asks each node). */
  peers: Peers;
  /** The current NodeState; read once per request. */
  state(): NodeState;
  /** Facts about the listening socket for /internal/state. */
  status(): Record<string, unknown>;
  metrics: NodeMetrics;
  /** Starts the writes of one event-loop turn together, so the engine commits them as one group. */
  writes: TurnQueue;
}

/** Filled in while a request is served, for its metrics and log line once it ends. */
export interface RequestTag {
  /** The route's path template (routes.ts); left as the caller set it if no route matched. */
  route: string;
}


/** How a handler of route K is called: with the request and its parsed route. */
export type Handler<K extends RouteKind> = (api: ApiOptions, ex: Exchange, route: Extract<Route, { kind: K }>) => Promise<void> | void;
