/**
 * Raft messages between controllers, over the one network seam: `POST /internal/raft` with a
 * batch of messages encoded by cluster/raft's codec (msgpack, checksummed, bounded), carrying
 * the cluster's internal credential (cluster/peers.ts).
 *
 * One request in flight per peer: messages for a peer that is busy or slow wait in its queue
 * and leave together, as one batch, when the request returns. The queue is bounded; past it the
 * oldest messages are dropped, which Raft tolerates (it resends what matters), and a peer that
 * is down costs one failing request at a time rather than a pile of them.
 */
import { RAFT_MESSAGES_QUEUED_MAX, RAFT_SEND_TIMEOUT_MS } from '../limits.ts';
import { errorFields, type Log } from '../log.ts';
import type { Peers } from '../peers.ts';
import { encodeMessageBatches, type Message } from '../raft/index.ts';

/** The content type of a Raft payload. */
export const RAFT_CONTENT_TYPE = 'application/vnd.distribkv.raft';

interface PeerQueue {
  messages: Message[];
  busy: boolean;
  failures: number;
}

export class RaftTransport {
  private readonly queues = new Map<string, PeerQueue>();
  private closed = false;

  constructor(private readonly peers: Peers, private readonly log: Log) {}

  /** Queues messages for their destinations; never throws. */
  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      let queue = this.queues.get(m.to);
      if (!queue) this.queues.set(m.to, (queue = { messages: [], busy: false, failures: 0 }));
      queue.messages.push(m);
      if (queue.messages.length > RAFT_MESSAGES_QUEUED_MAX) queue.messages.splice(0, queue.messages.length - RAFT_MESSAGES_QUEUED_MAX);
    }
    for (const [to, queue] of this.queues) if (!queue.busy && queue.messages.length > 0) void this.flush(to, queue);
  }

  close(): void {
    this.closed = true;
    this.queues.clear();
  }

  private async flush(to: string, queue: PeerQueue): Promise<void> {
    queue.busy = true;
    try {
      while (queue.messages.length > 0 && !this.closed) {
        const batch = queue.messages.splice(0);
        for (const payload of encodeMessageBatches(batch)) {
          const answer = await this.peers.post(to, '/internal/raft', payload, RAFT_CONTENT_TYPE, RAFT_SEND_TIMEOUT_MS);
          if (answer.status !== 204) throw new Error(`POST /internal/raft on ${to} answered ${answer.status}`);
        }
        queue.failures = 0;
      }
    } catch (error) {
      // Logged on the first failure and every 100th: a controller down is an expected state.
      if (queue.failures++ % 100 === 0) this.log('debug', 'raft messages to a controller failed', { to, failures: queue.failures, ...errorFields(error) });
    } finally {
      queue.busy = false;
    }
  }
}
