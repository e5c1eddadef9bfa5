/**
 * The step functions of followers and candidates (pre-candidates too): accepting appends,
 * heartbeats and snapshots from the leader of the current term (§5.3), counting votes (§5.2),
 * and starting a campaign on TimeoutNow (leadership transfer). Functions over the Raft state
 * (raft.ts); no I/O.
 */
import type { Raft } from './raft.ts';
import { MessageType, NONE, type Message } from './raft-types.ts';

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Append:
    case MessageType.Heartbeat:
    case MessageType.Snapshot:
      r.electionElapsed = 0;
      r.lead = m.from;
      return handleFromLeader(r, m);
    case MessageType.TimeoutNow:
      // The leader asks this member to campaign at once (it has the whole log): no pre-vote,
      // and the votes override leases, since the old leader stops leading.
      if (r.promotable()) r.campaign('election', true);
      return;
    default:
      return;
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Append:
    case MessageType.Heartbeat:
    case MessageType.Snapshot:
      // §5.2: a leader of this term exists; this member returns to follower.
      r.becomeFollower(m.term, m.from);
      return handleFromLeader(r, m);
    case MessageType.VoteResponse:
      if (r.role === 'candidate') tally(r, m);
      return;
    case MessageType.PreVoteResponse:
      // A grant carries the term asked for; an older campaign's grant does not count.
      if (r.role === 'pre-candidate' && (m.reject || m.term === r.term + 1)) tally(r, m);
      return;
    default:
      return;
  }
}

function tally(r: Raft, m: Message): void {
  const result = r.poll(m.from, !m.reject);
  if (result === 'won') r.onElectionWon();
  else if (result === 'lost') r.becomeFollower(r.term, NONE);
}

function handleFromLeader(r: Raft, m: Message): void {
  if (m.type === MessageType.Append) handleAppend(r, m);
  else if (m.type === MessageType.Heartbeat) handleHeartbeat(r, m);
  else handleSnapshot(r, m);
}

/** §5.3: append if our log holds the entry before the new ones; otherwise say where it may match. */
function handleAppend(r: Raft, m: Message): void {
  if (m.index < r.log.committed) {
    // Everything up to our commit index matches the leader's log: acknowledge that much.
    r.send({ type: MessageType.AppendResponse, to: m.from, index: r.log.committed });
    return;
  }
  const lastNew = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== undefined) {
    r.refreshVoters();
    r.send({ type: MessageType.AppendResponse, to: m.from, index: lastNew });
    return;
  }
  const hint = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm);
  r.send({ type: MessageType.AppendResponse, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(m.commit);
  r.send({ type: MessageType.HeartbeatResponse, to: m.from, context: m.context });
}

function handleSnapshot(r: Raft, m: Message): void {
  const snapshot = m.snapshot;
  if (!snapshot) return;
  if (snapshot.index <= r.log.committed) {
    r.send({ type: MessageType.AppendResponse, to: m.from, index: r.log.committed });
    return;
  }
  if (r.log.matchTerm(snapshot.index, snapshot.term)) {
    // Our log already holds the snapshot's last entry: only the commit index moves.
    r.log.commitTo(snapshot.index);
  } else {
    r.log.restore(snapshot);
    r.refreshVoters();
  }
  r.send({ type: MessageType.AppendResponse, to: m.from, index: snapshot.index });
}
