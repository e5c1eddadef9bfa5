/** Majorities of a voter set. Pure. */
import type { NodeId } from './raft-types.ts';

/** How many of `voterCount` voters make a majority. */
export function quorum(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** Whether `members` holds a majority of `voters` (members outside the set do not count). */
export function hasQuorum(voters: readonly NodeId[], members: ReadonlySet<NodeId>): boolean {
  let count = 0;
  for (const voter of voters) if (members.has(voter)) count++;
  return voters.length > 0 && count >= quorum(voters.length);
}

/** The highest index a majority of voters has reached, given each voter's match index. */
export function quorumIndex(voters: readonly NodeId[], matchOf: (voter: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorum(voters.length) - 1]!;
}
