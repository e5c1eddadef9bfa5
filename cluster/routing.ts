/**
 * Routing decisions: given what this node is (NodeState) and what a request asks for, serve
 * it here, redirect it, or refuse it. Pure and synchronous; the HTTP handler only carries out
 * the decision, so every rule below is testable without a socket.
 *
 * Rules (docs/api.md has the same table):
 * - A key of another shard → 307 to that shard's leader, with the shard's name. Never proxy:
 *   the client learns where the key lives and goes there itself next time.
 * - A write (PUT, DELETE, POST /batch) on a replica → 307 to its leader.
 * - A read or scan on a replica → 307 to its leader, unless the request says `read=replica`;
 *   then the replica answers from its own data (which may lag the leader), except while it
 *   installs a snapshot (its data is then partial): 307 to the leader. Waiting for `min_seq`
 *   is the handler's job, after this decision.
 * - A batch must name keys of one shard only: the first key not of this node's shard is named
 *   in a WRONG_SHARD error, unless every key belongs to one other shard, which is a 307 there.
 * - During a migration (docs/resharding.md), a key's owner is its giver until its move is done,
 *   then its receiver; the giver answers 308 ("moved for good") for a key it handed over, and
 *   refuses writes and leader reads of a key it is handing over (cutover) with 503 MIGRATING,
 *   for a moment.
 * - 307 and 308 keep the method and body (unlike 302/303).
 * - A Location is built from the decoded key, percent-encoded again, never from the path the
 *   client sent: `/kv/..` would otherwise become `/` in every client that resolves dot
 *   segments (RFC 3986 §5.2.4). A key that is all dots is sent as `%2E`s, which curl and the
 *   routing client keep as they are (browsers' fetch still resolves them; docs/api.md).
 */
import { ClusterError } from '../protocol/errors.ts';
import type { NodeState } from './node-state.ts';
import { percentEncode } from '../protocol/percent.ts';
import type { Owner } from '../protocol/placement.ts';

export type Decision =
  | { kind: 'serve' }
  | { kind: 'redirect'; status: 307 | 308; location: string; shard: string }
  | { kind: 'error'; error: ClusterError };

const SERVE: Decision = Object.freeze({ kind: 'serve' });

/**
 * What routing needs to know about a request. `query` is the request's query string (without
 * `?`, already checked by request.ts), kept in a Location as it came.
 */
export type RoutingRequest =
  | { op: 'read'; key: Uint8Array; readReplica: boolean; query: string }
  | { op: 'write'; key: Uint8Array; query: string }
  | { op: 'scan'; readReplica: boolean; query: string }
  | { op: 'batch'; keys: readonly Uint8Array[]; readReplica?: boolean; query: string };

export function decide(state: NodeState, request: RoutingRequest): Decision {
  // The redirect target is built only for a redirect: percent-encoding the key of every request
  // served here would cost a string per request for nothing.
  switch (request.op) {
    case 'read':
    case 'write': {
      const owner = state.topology.ownerOf(request.key);
      if (owner.shard !== state.shard?.name) return redirectToOwner(state, owner, request);
      // In cutover the giver takes neither writes nor leader reads of the key: once the receiver owns it,
      // a read here could miss its first write there (replica reads promise no recency).
      if (owner.move?.state === 'cutover' && !(request.op === 'read' && request.readReplica)) return migrating(request.key, owner);
      return decideOwnShard(state, request.op === 'read' && request.readReplica, request);
    }
    case 'scan':
      return decideOwnShard(state, request.readReplica, request);
    case 'batch':
      return decideBatch(state, request.keys, request.readReplica === true, request);
  }
}

/** The path and query a redirected request is sent to: rebuilt from the key, never the raw path. */
export function targetOf(request: RoutingRequest): string {
  const query = request.query === '' ? '' : `?${request.query}`;
  switch (request.op) {
    case 'read':
    case 'write':
      return `/kv/${keyPathSegment(request.key)}${query}`;
    case 'scan':
      return `/kv${query}`;
    case 'batch':
      return `/batch${query}`;
  }
}

/**
 * A key as one path segment: percent-encoded (so `/` is `%2F`), and a key of only dots with
 * each dot as `%2E`, because `.` and `..` are dot segments a client would resolve away.
 */
export function keyPathSegment(key: Uint8Array): string {
  const encoded = percentEncode(key);
  return encoded === '.' || encoded === '..' ? '%2E'.repeat(encoded.length) : encoded;
}

function decideOwnShard(state: NodeState, servedByReplica: boolean, request: RoutingRequest): Decision {
  if (!state.shard) return { kind: 'error', error: new ClusterError('WRONG_SHARD', `${state.address} holds no shard yet; scan at a shard's leader (GET /cluster lists them)`) };
  if (state.role === 'leader' || (servedByReplica && state.replicaReadable)) return SERVE;
  return redirect(state.shard.leader, targetOf(request), state.shard.name);
}

function decideBatch(state: NodeState, keys: readonly Uint8Array[], readReplica: boolean, request: RoutingRequest): Decision {
  // An empty batch is refused by the batch parser before routing; nothing to route here.
  if (keys.length === 0) return SERVE;
  // Each key hashed once (a hash is most of routing a key); its owner is looked at twice.
  const owners = keys.map((key) => state.topology.ownerOf(key));
  const mine = state.shard?.name;
  // The shard every key must belong to: ours if any key is ours, else the first key's.
  const home = mine !== undefined && owners.some((o) => o.shard === mine) ? mine : owners[0]!.shard;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const found = owners[i]!;
    const owner = found.shard;
    if (owner === home && found.move?.state === 'cutover' && !readReplica) return migrating(key, found);
    if (owner !== home) {
      return {
        kind: 'error',
        error: new ClusterError(
          'WRONG_SHARD',
          `batch key ${JSON.stringify(percentEncode(key))} belongs to shard ${JSON.stringify(owner)}, not ${JSON.stringify(home)}; a batch must stay within one shard`,
        ),
      };
    }
  }
  if (home !== mine) return redirectToOwner(state, owners[0]!, request);
  return decideOwnShard(state, readReplica, request);
}

/**
 * To the leader of the key's owner: 308 when the key moved away from this node's shard for good
 * (a migration's move is done), 307 otherwise.
 */
function redirectToOwner(state: NodeState, owner: Owner, request: RoutingRequest): Decision {
  const shard = state.topology.shard(owner.shard)!;
  const moved = owner.move?.state === 'done' && owner.move.giver === state.shard?.name;
  return redirect(shard.leader, targetOf(request), shard.name, moved ? 308 : 307);
}

function migrating(key: Uint8Array, owner: Owner): { kind: 'error'; error: ClusterError } {
  return {
    kind: 'error',
    error: new ClusterError('MIGRATING', `key ${JSON.stringify(percentEncode(key))} is being handed from shard ${owner.move!.giver} to ${owner.move!.receiver}; retry in a moment`),
  };
}

function redirect(address: string, target: string, shard: string, status: 307 | 308 = 307): Decision {
  return { kind: 'redirect', status, location: `http://${address}${target}`, shard };
}

/**
 * The write gate's check of each key a leader's client write reaches the engine with: a write
 * routed under older metadata must not land on a key this shard no longer owns (moved away), or
 * is handing over (cutover). It gets 503 MIGRATING, and its retry is routed afresh.
 */
export function ownershipFence(state: NodeState): (key: Uint8Array) => ClusterError | undefined {
  const mine = state.shard?.name;
  return (key) => {
    const owner = state.topology.ownerOf(key);
    if (owner.shard !== mine) {
      return new ClusterError('MIGRATING', `key ${JSON.stringify(percentEncode(key))} now belongs to shard ${owner.shard}; retry, and you will be redirected there`);
    }
    if (owner.move?.state === 'cutover') return migrating(key, owner).error;
    return undefined;
  };
}
