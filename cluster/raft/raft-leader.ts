/**
 * The leader's step function and its replication (§5.3), commit rule (§5.4.2), heartbeats,
 * CheckQuorum, ReadIndex confirmations and leadership transfer. Functions over the Raft state
 * (raft.ts), which they mutate; no I/O.
 *
 * Flow control per follower lives in progress.ts: appends stop while a probe is unanswered,
 * while the in-flight window is full, or while a snapshot is on its way; each append carries
 * at most `appendBytesMax` bytes of entry data (and at least one entry).
 */
import { hasQuorum, quorumIndex } from './quorum.ts';
import type { Raft } from './raft.ts';
import { raftAssert } from './raft-errors.ts';
import { MESSAGE_TYPE_NAMES, MessageType, NONE, type Entry, type Message, type NodeId } from './raft-types.ts';

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.AppendResponse:
      return handleAppendResponse(r, m);
    case MessageType.HeartbeatResponse:
      return handleHeartbeatResponse(r, m);
    case MessageType.Append:
    case MessageType.Heartbeat:
    case MessageType.Snapshot:
      raftAssert(false, () => `raft ${r.id}: leader of term ${r.term} got ${MESSAGE_TYPE_NAMES[m.type]} from ${m.from} in the same term: two leaders in one term`);
      return;
    default:
      return; // late vote answers, TimeoutNow: nothing to do for a leader
  }
}

export function tickLeader(r: Raft): void {
  r.heartbeatElapsed++;
  r.electionElapsed++;
  if (r.electionElapsed >= r.limits.electionTicks) {
    r.electionElapsed = 0;
    if (r.limits.checkQuorum && !quorumActive(r)) return r.becomeFollower(r.term, NONE);
    r.leadTransferee = NONE; // a transfer that did not finish within an election timeout is abandoned
  }
  for (const progress of r.progress.values()) {
    // An unanswered snapshot (lost, or the follower restarted) is retried through a probe.
    if (progress.state === 'snapshot' && ++progress.snapshotElapsedTicks >= r.limits.electionTicks) progress.becomeProbe();
  }
  if (r.heartbeatElapsed >= r.limits.heartbeatTicks) {
    r.heartbeatElapsed = 0;
    bcastHeartbeat(r);
  }
}

/** CheckQuorum: did a quorum answer since the last check? Starts the next period. */
function quorumActive(r: Raft): boolean {
  const active = new Set<NodeId>([r.id]);
  for (const [member, progress] of r.progress) {
    if (progress.recentActive) active.add(member);
    if (member !== r.id) progress.recentActive = false;
  }
  return hasQuorum(r.voters, active);
}

function bytesOf(entries: readonly Entry[]): number {
  let bytes = 0;
  for (const entry of entries) bytes += entry.data.length;
  return bytes;
}

/**
 * Sends `to` what it needs next, if its flow control allows: entries (or, with
 * `sendIfEmpty`, an empty append that carries the commit index), or the snapshot when the
 * entries it needs are compacted. Returns whether a message was sent.
 */
export function sendAppend(r: Raft, to: NodeId, sendIfEmpty = true): boolean {
  const progress = r.progress.get(to);
  if (!progress || progress.isPaused()) return false;
  const last = r.log.lastIndex();
  raftAssert(progress.next <= last + 1, () => `raft ${r.id}: next ${progress.next} for ${to} is past the end ${last}`);
  const prevIndex = progress.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined) {
    if (!progress.recentActive) return false; // not worth a snapshot until it answers
    const snapshot = r.log.snapshot;
    r.send({ type: MessageType.Snapshot, to, snapshot });
    progress.becomeSnapshot(snapshot.index);
    return true;
  }
  const entries = progress.next <= last ? r.log.slice(progress.next, last + 1, r.limits.appendBytesMax) : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({ type: MessageType.Append, to, index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed });
  progress.sentEntries(prevIndex + entries.length, entries.length, bytesOf(entries));
  return true;
}

export function bcastAppend(r: Raft): void {
  for (const member of r.progress.keys()) if (member !== r.id) sendAppend(r, member);
}

/** Heartbeats carry the commit index a follower can take (never past what it matched). */
export function bcastHeartbeat(r: Raft, context = r.readOnly.lastContext()): void {
  for (const [member, progress] of r.progress) {
    if (member === r.id) continue;
    r.send({ type: MessageType.Heartbeat, to: member, commit: Math.min(progress.match, r.log.committed), context });
  }
}

export function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send({ type: MessageType.TimeoutNow, to });
}

/**
 * §5.3–§5.4.2: the highest index a majority of voters holds becomes committed if its entry is
 * of the current term. Returns whether the commit index moved (and this member still leads).
 */
export function maybeCommit(r: Raft): boolean {
  const before = r.log.committed;
  const index = quorumIndex(r.voters, (voter) => r.progress.get(voter)?.match ?? 0);
  if (!r.log.maybeCommit(index, r.term)) return false;
  for (let i = before + 1; i <= r.log.committed; i++) r.uncommittedBytes -= r.log.entry(i)!.data.length;
  r.uncommittedBytes = Math.max(0, r.uncommittedBytes); // entries of earlier terms were not counted
  if (r.pendingMembershipIndex !== 0 && r.pendingMembershipIndex <= r.log.committed) {
    r.pendingMembershipIndex = 0;
    r.pruneProgress();
  }
  if (r.pendingReadContexts.length > 0 && r.log.term(r.log.committed) === r.term) {
    const contexts = r.pendingReadContexts;
    r.pendingReadContexts = [];
    for (const context of contexts) r.startRead(context);
  }
  // Dissertation §4.2.2: a leader removed from the configuration steps down once the change commits.
  if (!r.voters.includes(r.id) && r.log.lastMembershipIndex() <= r.log.committed) {
    r.becomeFollower(r.term, NONE);
    return false;
  }
  return true;
}

function handleAppendResponse(r: Raft, m: Message): void {
  const progress = r.progress.get(m.from);
  if (!progress) return;
  progress.recentActive = true;
  if (m.reject) {
    // The follower's hint (index, term) names where its log may match; skip every entry of
    // ours after the last one whose term is at most the hinted term (etcd's findConflictByTerm).
    const hint = m.logTerm > 0 ? r.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
    if (progress.maybeDecreaseTo(m.index, hint)) {
      if (progress.state === 'replicate') progress.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  raftAssert(m.index <= r.log.lastIndex(), () => `raft ${r.id}: ${m.from} acknowledged ${m.index}, past the leader's last index ${r.log.lastIndex()}`);
  if (!progress.maybeUpdate(m.index)) return;
  if (progress.state === 'probe') progress.becomeReplicate();
  else if (progress.state === 'snapshot' && progress.match + 1 >= r.log.firstIndex()) {
    progress.becomeProbe();
    progress.becomeReplicate();
  } else if (progress.state === 'replicate') progress.inflights.freeTo(m.index);
  if (maybeCommit(r)) bcastAppend(r);
  if (r.role !== 'leader') return;
  while (sendAppend(r, m.from, false)) {
    // keep the window full
  }
  if (m.from === r.leadTransferee && progress.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

function handleHeartbeatResponse(r: Raft, m: Message): void {
  const progress = r.progress.get(m.from);
  if (!progress) return;
  progress.recentActive = true;
  progress.probeSent = false;
  // Appends may all have been lost: free one slot so replication resumes (and finds the gap).
  if (progress.state === 'replicate' && progress.inflights.full()) progress.inflights.freeFirst();
  if (progress.match < r.log.lastIndex()) sendAppend(r, m.from);
  if (m.context === '') return;
  const acks = r.readOnly.recordAck(m.from, m.context);
  if (acks && hasQuorum(r.voters, acks)) r.readStates.push(...r.readOnly.release(m.context));
}
