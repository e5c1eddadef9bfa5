/**
 * Routing decisions, data-driven from testdata/routing.txt: which requests a node serves,
 * which it redirects where, and which it refuses. Pure; no sockets.
 */
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { decide, nodeStateFor, parseConfig, Topology, type RoutingRequest } from '../../cluster/index.ts';
import { ownershipFence } from '../../cluster/routing.ts';
import type { MoveState } from '../../protocol/placement.ts';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';

const encoder = new TextEncoder();

it('routes every request in testdata/routing.txt as written there', () => {
  let topology: Topology | undefined;
  runDataDriven(fileURLToPath(new URL('./testdata/routing.txt', import.meta.url)), (c: Case) => {
    switch (c.command) {
      case 'topology': {
        const shards = c.input.map((line) => {
          const [name, leader, ...replicas] = line.trim().split(/\s+/);
          return `[[shards]]\nname = "${name}"\nleader = "${leader}"\nreplicas = [${replicas.map((r) => `"${r}"`).join(', ')}]\n`;
        });
        const config = parseConfig(`[cluster]\nvnodes = ${c.named.get('vnodes') ?? 128}\n${shards.join('')}`, { source: 'routing.txt' });
        topology = Topology.fromConfig(config);
        return `version ${topology.version}, ${topology.shards.length} shards, ${topology.vnodes} vnodes`;
      }
      case 'owner':
        return c.args.map((k) => {
          const owner = topology!.placement.ownerOf(encoder.encode(k));
          return `${k} -> ${owner.shard}${owner.move ? ` (moving ${owner.move.giver} > ${owner.move.receiver}, ${owner.move.state})` : ''}`;
        }).join('\n');
      case 'migrate': {
        // The same shards, routed by ring= while a migration to to= runs its moves=giver>receiver:state,….
        const list = (name: string) => c.named.get(name)!.split(',');
        const moves = list('moves').map((m) => {
          const [pair, state] = m.split(':');
          const [giver, receiver] = pair!.split('>');
          return { giver: giver!, receiver: receiver!, state: state as MoveState };
        });
        topology = Topology.of(topology!.version + 1, topology!.shards, topology!.vnodes, list('ring'), { to: list('to'), moves });
        return `version ${topology.version}, ring ${list('ring').join(',')} → ${list('to').join(',')}`;
      }
      case 'fence': {
        const fence = ownershipFence(nodeStateFor(topology!, c.named.get('node')!));
        return c.args.map((k) => `${k}: ${fence(encoder.encode(k))?.message ?? 'let through'}`).join('\n');
      }
      case 'decide':
        return describe(decide(nodeStateFor(topology!, c.named.get('node')!, c.named.get('readable') !== 'false'), request(c)));
      default:
        throw new Error(`line ${c.line}: unknown command ${c.command}`);
    }
  });
});

function request(c: Case): RoutingRequest {
  const [op, ...keys] = c.args;
  const readReplica = c.named.get('read') === 'replica';
  const bytes = keys.map((k) => encoder.encode(k));
  const query = c.named.get('query') ?? '';
  switch (op) {
    case 'read':
      return { op, key: bytes[0]!, readReplica, query };
    case 'write':
      return { op, key: bytes[0]!, query };
    case 'scan':
      return { op, readReplica, query };
    case 'batch':
      return { op, keys: bytes, query };
    default:
      throw new Error(`line ${c.line}: unknown op ${op}`);
  }
}

function describe(decision: ReturnType<typeof decide>): string {
  switch (decision.kind) {
    case 'serve':
      return 'serve';
    case 'redirect':
      return `redirect ${decision.status} ${decision.location} shard=${decision.shard}`;
    case 'error':
      return `error ${decision.error.code}: ${decision.error.message}`;
  }
}
