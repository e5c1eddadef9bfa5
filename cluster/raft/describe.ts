/**
 * One-line text for messages, entries and Readies: for logs, the script tests and the
 * simulator's failure reports. Pure.
 *
 *   1->2 Append term=2 prev=3/1 commit=3 entries=[4/2 "x"]
 *   2->1 AppendResponse term=2 rejected index=3 hint=2/1
 */
import { decodeMembership } from './membership.ts';
import { EntryType, MESSAGE_TYPE_NAMES, MessageType, type Entry, type Message } from './raft-types.ts';

const decoder = new TextDecoder();

/** `index/term "data"`, or `index/term membership add 4 -> [1 2 3 4]`. */
export function describeEntry(entry: Entry): string {
  if (entry.type === EntryType.Membership) {
    const { change, voters } = decodeMembership(entry.data);
    return `${entry.index}/${entry.term} ${change.type} ${change.node} -> [${voters.join(' ')}]`;
  }
  const text = decoder.decode(entry.data);
  return `${entry.index}/${entry.term} ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`;
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${MESSAGE_TYPE_NAMES[m.type] ?? `type-${m.type}`} term=${m.term}`;
  switch (m.type) {
    case MessageType.Vote:
    case MessageType.PreVote:
      return `${head} last=${m.index}/${m.logTerm}${m.context ? ` ${m.context}` : ''}`;
    case MessageType.VoteResponse:
    case MessageType.PreVoteResponse:
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case MessageType.Append:
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map(describeEntry).join(', ')}]`;
    case MessageType.AppendResponse:
      return m.reject ? `${head} rejected index=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${head} index=${m.index}`;
    case MessageType.Heartbeat:
      return `${head} commit=${m.commit}${m.context ? ` read=${m.context}` : ''}`;
    case MessageType.HeartbeatResponse:
      return `${head}${m.context ? ` read=${m.context}` : ''}`;
    case MessageType.Snapshot:
      return `${head} snapshot=${m.snapshot?.index}/${m.snapshot?.term} voters=[${m.snapshot?.voters.join(' ')}]`;
    default:
      return head;
  }
}
