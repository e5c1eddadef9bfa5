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
 * - 307 keeps the method and body (unlike 302/303). 308 means "moved for good"; nothing
 *   moves permanently yet, but the client already follows it.
 */
import { ClusterError } from '../protocol/errors.ts';
import type { NodeState } from './node-state.ts';
import { percentEncode } from '../protocol/percent.ts';

export type Decision =
  | { kind: 'serve' }
  | { kind: 'redirect'; status: 307 | 308; location: string; shard: string }
  | { kind: 'error'; error: ClusterError };

const SERVE: Decision = Object.freeze({ kind: 'serve' });

/** What routing needs to know about a request. `target` is the raw path and query, reused in Location. */
export type RoutingRequest =
  | { op: 'read'; key: Uint8Array; readReplica: boolean; target: string }
  | { op: 'write'; key: Uint8Array; target: string }
  | { op: 'scan'; readReplica: boolean; target: string }
  | { op: 'batch'; keys: readonly Uint8Array[]; target: string };

export function decide(state: NodeState, request: RoutingRequest): Decision {
  switch (request.op) {
    case 'read':
    case 'write': {
      const owner = state.topology.shardOf(request.key);
      if (owner.name !== state.shard?.name) return redirect(owner.leader, request.target, owner.name);
      return decideOwnShard(state, request.op === 'read' && request.readReplica, request.target);
    }
    case 'scan':
      return decideOwnShard(state, request.readReplica, request.target);
    case 'batch':
      return decideBatch(state, request.keys, request.target);
  }
}

function decideOwnShard(state: NodeState, servedByReplica: boolean, target: string): Decision {
  if (!state.shard) return { kind: 'error', error: new ClusterError('WRONG_SHARD', `${state.address} holds no shard yet; scan at a shard's leader (GET /cluster lists them)`) };
  if (state.role === 'leader' || (servedByReplica && state.replicaReadable)) return SERVE;
  return redirect(state.shard.leader, target, state.shard.name);
}

function decideBatch(state: NodeState, keys: readonly Uint8Array[], target: string): Decision {
  // An empty batch is refused by the batch parser before routing; nothing to route here.
  const first = keys[0];
  if (first === undefined) return SERVE;
  const firstShard = state.topology.shardOf(first).name;
  // The shard every key must belong to: ours if any key is ours, else the first key's.
  const home = state.shard && (firstShard === state.shard.name || keys.some((k) => state.topology.shardOf(k).name === state.shard!.name))
    ? state.shard.name
    : firstShard;
  for (const key of keys) {
    const owner = state.topology.shardOf(key).name;
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
  if (home !== state.shard?.name) {
    const leader = state.topology.shard(home)!.leader;
    return redirect(leader, target, home);
  }
  return decideOwnShard(state, false, target);
}

function redirect(address: string, target: string, shard: string): Decision {
  return { kind: 'redirect', status: 307, location: `http://${address}${target}`, shard };
}
