/**
 * Spreading topologies between nodes: fetching a peer's (`GET /internal/topology`) when it
 * shows a newer epoch, asking every peer at start-up and periodically, pushing a new one
 * after a promotion (`POST /internal/topology`), and asking the shard's nodes, before a
 * promotion, whether any of them has applied more than this node.
 *
 * Every call has a short timeout and a node that does not answer is skipped: a dead node
 * learns the newest topology when it starts again (it asks everyone before it serves).
 * Concurrent fetches from one address, and concurrent discovery rounds, are coalesced.
 */
import { ClusterError } from '../../protocol/errors.ts';
import { errorFields, type Log } from '../log.ts';
import type { ShardInfo, TopologyJson } from '../../protocol/topology.ts';
import type { EpochEntry } from './epoch-history.ts';
import type { Peers } from '../peers.ts';
import { TOPOLOGY_FETCH_TIMEOUT_MS, TOPOLOGY_PUSH_TIMEOUT_MS } from '../limits.ts';

/** `GET /internal/topology`: the topology a node routes by and its epoch history. */
export interface TopologyDocument {
  topology: TopologyJson;
  history: EpochEntry[];
}


export class TopologySync {
  private readonly fetching = new Map<string, Promise<void>>();
  private discovering: Promise<void> | undefined;

  constructor(
    private readonly peers: Peers,
    private readonly address: string,
    private readonly log: Log,
    private readonly adopt: (doc: { topology: unknown; history: unknown }, from: string) => Promise<boolean>,
  ) {}

  /** Fetches `address`'s topology and adopts it if newer; runs on its own, never rejects. */
  learnFrom(address: string): void {
    if (this.fetching.has(address)) return;
    const job = this.fetch(address)
      .then((doc) => doc && this.adopt(doc, address))
      .then(() => undefined)
      .catch((error: unknown) => this.log('warn', 'could not learn a topology from a peer', { peer: address, ...errorFields(error) }))
      .finally(() => this.fetching.delete(address));
    this.fetching.set(address, job);
  }

  /** Asks every address but this node's; adopts the newest answer. Never rejects. */
  discover(addresses: readonly string[]): Promise<void> {
    this.discovering ??= this.discoverOnce(addresses).finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  private async discoverOnce(addresses: readonly string[]): Promise<void> {
    const others = addresses.filter((a) => a !== this.address);
    const answers = await Promise.all(others.map((a) => this.fetch(a).catch(() => undefined)));
    let best: { doc: TopologyDocument; from: string } | undefined;
    answers.forEach((doc, i) => {
      if (doc && (!best || doc.topology.epoch > best.doc.topology.epoch)) best = { doc, from: others[i]! };
    });
    if (!best) return;
    try {
      await this.adopt(best.doc, best.from);
    } catch (error) {
      this.log('warn', 'a peer sent a topology that could not be adopted', { peer: best.from, ...errorFields(error) });
    }
  }

  /** Sends `doc` to every address but this node's; reports who took it. */
  async push(doc: TopologyDocument, addresses: readonly string[]): Promise<{ notified: string[]; unreachable: string[] }> {
    const others = addresses.filter((a) => a !== this.address);
    const results = await Promise.all(others.map(async (address) => {
      try {
        const answer = await this.peers.call(address, 'POST', '/internal/topology', { json: doc, timeoutMs: TOPOLOGY_PUSH_TIMEOUT_MS });
        return answer.status === 200;
      } catch {
        return false;
      }
    }));
    return { notified: others.filter((_, i) => results[i]), unreachable: others.filter((_, i) => !results[i]) };
  }

  /** Throws NOT_PROMOTABLE if a reachable node of `shard` has applied more than `lastSequence`. */
  async checkMostUpToDate(shard: ShardInfo, lastSequence: number): Promise<void> {
    const others = [shard.leader, ...shard.replicas].filter((a) => a !== this.address);
    const positions = await Promise.all(others.map(async (address) => {
      try {
        const answer = await this.peers.call(address, 'GET', '/internal/state', { timeoutMs: TOPOLOGY_FETCH_TIMEOUT_MS });
        const state = answer.json as { lastSequence?: unknown } | undefined;
        return answer.status === 200 && Number.isSafeInteger(state?.lastSequence) ? (state!.lastSequence as number) : undefined;
      } catch {
        return undefined;
      }
    }));
    const ahead = positions.findIndex((p) => p !== undefined && p > lastSequence);
    if (ahead >= 0) {
      throw new ClusterError('NOT_PROMOTABLE', `${others[ahead]} has applied up to seq ${positions[ahead]}, more than this node's ${lastSequence}; promote it instead, or pass force=true to lose the difference`);
    }
  }

  private async fetch(address: string): Promise<TopologyDocument | undefined> {
    const answer = await this.peers.call(address, 'GET', '/internal/topology', { timeoutMs: TOPOLOGY_FETCH_TIMEOUT_MS });
    if (answer.status !== 200) return undefined;
    return answer.json as TopologyDocument | undefined;
  }
}
