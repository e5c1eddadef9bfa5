/**
 * The leader's pending ReadIndex requests (Raft dissertation §6.4). Pure.
 *
 * A request records the commit index at the moment it arrived and a unique context. The
 * leader sends heartbeats carrying the newest pending context; a quorum of answers echoing a
 * context proves that, when the request arrived, no other leader had been elected, so every
 * write acknowledged before the read is at or below the recorded index. One answer confirms
 * its context and every request queued before it (they arrived earlier, and the quorum check
 * is about a moment after their arrival too).
 *
 * Invariant: `queue` holds the contexts of `pending` in arrival order.
 */
import { raftAssert } from './raft-errors.ts';
import type { NodeId, ReadState } from './raft-types.ts';

interface ReadRequest {
  readonly index: number;
  readonly context: string;
  readonly acks: Set<NodeId>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  has(context: string): boolean {
    return this.pending.has(context);
  }

  add(index: number, context: string): void {
    raftAssert(!this.pending.has(context), () => `read-only: context ${JSON.stringify(context)} is already pending`);
    this.pending.set(context, { index, context, acks: new Set() });
    this.queue.push(context);
  }

  /** Records that `from` answered a heartbeat carrying `context`; returns who has, or undefined. */
  recordAck(from: NodeId, context: string): ReadonlySet<NodeId> | undefined {
    const request = this.pending.get(context);
    if (!request) return undefined;
    request.acks.add(from);
    return request.acks;
  }

  /** Releases the request with `context` and every one queued before it. */
  release(context: string): ReadState[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const released = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return released.map((c) => {
      const request = this.pending.get(c)!;
      this.pending.delete(c);
      return { index: request.index, context: c };
    });
  }

  /** The context a heartbeat should carry: the newest pending request's. */
  lastContext(): string {
    return this.queue.length === 0 ? '' : this.queue[this.queue.length - 1]!;
  }

  clear(): void {
    this.pending.clear();
    this.queue = [];
  }
}
