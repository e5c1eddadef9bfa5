/**
 * Automatic failover's rules, pure: the control plane's leader keeps a `LeaseBook` of the
 * leases it granted, and asks it which shards' leases have certainly ended; for such a shard it
 * asks the in-sync members where they stand and `chooseLeader` picks the next leader.
 * docs/failover.md gives the arithmetic.
 *
 * The wait: a shard leader counts its lease from the moment it asked for it, on its own clock;
 * the control plane grants it only after confirming its own leadership with a quorum (a Raft
 * read), so a grant it records is never earlier than the leader's count began. It then elects
 * no one else for that shard until `waitMs` (the lease plus a margin for clocks that run at
 * different rates) has passed since the last grant, since the shard's current term began, and
 * since this controller itself became the leader: a new controller leader knows nothing of
 * the grants its predecessor made, so it waits a whole lease for every shard.
 */
import type { Command, ShardMeta } from './metadata.ts';

interface Grant {
  node: string;
  term: number;
  atMs: number;
}

export class LeaseBook {
  private readonly grants = new Map<string, Grant>();
  private readonly terms = new Map<string, Grant>();

  /** `sinceMs`: when this controller became the control plane's leader. */
  constructor(private readonly sinceMs: number, private readonly waitMs: number) {}

  /** A lease granted to `node`, leader of `shard` at `term`, at `atMs`. */
  granted(shard: string, node: string, term: number, atMs: number): void {
    this.grants.set(shard, { node, term, atMs });
  }

  /** The metadata shows `shard` led by `leader` at `term`; a term seen for the first time starts now. */
  observe(shard: ShardMeta, nowMs: number): void {
    const known = this.terms.get(shard.name);
    if (!known || known.term !== shard.term || known.node !== shard.leader) this.terms.set(shard.name, { node: shard.leader, term: shard.term, atMs: nowMs });
  }

  /**
   * Gives the shard's current leader a fresh window to ask for its lease, as if its term began
   * now: when it is the only member that could lead, electing it again under a new term would
   * only make it rebuild its leadership (and, on a slow machine, miss the next window too).
   */
  restart(shard: ShardMeta, nowMs: number): void {
    this.terms.set(shard.name, { node: shard.leader, term: shard.term, atMs: nowMs });
  }

  /** How much longer the shard's current leader may hold a lease (0: it has certainly ended). */
  remainingMs(shard: ShardMeta, nowMs: number): number {
    let since = this.sinceMs;
    const term = this.terms.get(shard.name);
    if (term && term.term === shard.term && term.node === shard.leader) since = Math.max(since, term.atMs);
    const grant = this.grants.get(shard.name);
    if (grant && grant.term === shard.term && grant.node === shard.leader) since = Math.max(since, grant.atMs);
    return Math.max(0, since + this.waitMs - nowMs);
  }
}

/** Where an in-sync member stands, as it answered `GET /internal/state`. */
export interface CandidateState {
  node: string;
  /** The term of the newest data it holds. */
  dataTerm: number;
  lastSequence: number;
}

/**
 * The next leader of `shard`: among the in-sync members that answered, the one with the newest
 * data: the highest data term, then the highest sequence number (so the fewest acks=1 writes are
 * lost), then the old leader if it is among them (it lost only its lease: re-electing it under
 * a new term is safe and moves nothing), then the lowest address. Undefined if none answered.
 */
export function chooseLeader(shard: ShardMeta, answers: readonly CandidateState[]): string | undefined {
  const eligible = answers.filter((a) => shard.inSync.includes(a.node));
  const rank = (a: CandidateState) => (a.node === shard.leader ? 0 : 1);
  eligible.sort((a, b) => b.dataTerm - a.dataTerm || b.lastSequence - a.lastSequence || rank(a) - rank(b) || (a.node < b.node ? -1 : 1));
  return eligible[0]?.node;
}

/** The members to ask before an election: the in-sync set, the old leader included (it may only have missed its renewals). */
export function electionCandidates(shard: ShardMeta): string[] {
  return [...shard.inSync];
}

/** The command electing `leader`: the in-sync set keeps the other members but the old leader. */
export function electCommand(shard: ShardMeta, leader: string, keepOldLeader = false): Extract<Command, { type: 'elect' }> {
  const rest = shard.inSync.filter((n) => n !== leader && (keepOldLeader || n !== shard.leader));
  return { type: 'elect', shard: shard.name, leader, expectTerm: shard.term, inSync: [leader, ...rest] };
}
