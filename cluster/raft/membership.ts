/**
 * The data of a Membership entry: the change and the complete voter set it leads to, as
 * UTF-8 JSON (a few dozen bytes, rare, and readable in a log dump).
 *
 *   {"type":"add","node":"n4","voters":["n1","n2","n3","n4"]}
 *
 * The full set travels rather than only the change, so a member that never saw the earlier
 * configurations (one that joins, or restores a snapshot) knows the set from this entry
 * alone. Format version: implied by the entry type (1); a change gets a new entry type.
 */
import { RaftError } from './raft-errors.ts';
import type { MembershipChange, NodeId } from './raft-types.ts';

export interface MembershipData {
  readonly change: MembershipChange;
  readonly voters: readonly NodeId[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeMembership(data: MembershipData): Uint8Array {
  return encoder.encode(JSON.stringify({ type: data.change.type, node: data.change.node, voters: data.voters }));
}

export function decodeMembership(bytes: Uint8Array): MembershipData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new RaftError('CORRUPTION', `raft: membership entry is not UTF-8 JSON (${bytes.length} bytes)`, { cause });
  }
  const { type, node, voters } = (parsed ?? {}) as { type?: unknown; node?: unknown; voters?: unknown };
  if ((type !== 'add' && type !== 'remove') || !isNodeId(node) || !Array.isArray(voters) || !voters.every(isNodeId)) {
    throw new RaftError('CORRUPTION', `raft: membership entry has a bad shape: ${JSON.stringify(parsed).slice(0, 200)}`);
  }
  return { change: { type, node }, voters };
}

/** The voter set after applying `change` to `voters`, or an INVALID_ARGUMENT error. */
export function applyMembershipChange(voters: readonly NodeId[], change: MembershipChange): NodeId[] {
  if (!isNodeId(change.node)) throw new RaftError('INVALID_ARGUMENT', `raft: membership change needs a non-empty node id, got ${JSON.stringify(change.node)}`);
  const has = voters.includes(change.node);
  if (change.type === 'add') {
    if (has) throw new RaftError('INVALID_ARGUMENT', `raft: ${JSON.stringify(change.node)} is already a voter`);
    return [...voters, change.node].sort();
  }
  if (change.type !== 'remove') throw new RaftError('INVALID_ARGUMENT', `raft: membership change type must be "add" or "remove", got ${JSON.stringify(change.type)}`);
  if (!has) throw new RaftError('INVALID_ARGUMENT', `raft: ${JSON.stringify(change.node)} is not a voter`);
  if (voters.length === 1) throw new RaftError('INVALID_ARGUMENT', `raft: cannot remove ${JSON.stringify(change.node)}, the last voter`);
  return voters.filter((v) => v !== change.node);
}

export function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && value.length > 0 && value.length <= 255;
}
