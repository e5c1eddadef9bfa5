/**
 * Who may take the node's resources, counted in three pools so that no cheap trick fills
 * another's (issue 16, finding 4):
 *
 *   serving     requests being worked on: no body, or their body has arrived. Bounded by
 *               `inflight_requests_max` for clients' requests and apart, by
 *               INTERNAL_INFLIGHT_MAX, for node-to-node ones (internal routes), so that clients
 *               at their limit cannot cut a node off from its peers (its lease, the metadata,
 *               Raft); engine work and whole bodies in memory live here.
 *   receiving   requests whose body is still arriving. A client that sends a head and then
 *               stalls costs a socket and the bytes it sent, not a serving slot, so a few
 *               hundred stalled bodies cannot make everyone else wait for the request
 *               timeout. Bounded by count (BODIES_RECEIVING_MAX) and by the bytes they hold
 *               together (BODY_BYTES_RECEIVING_MAX).
 *   streams     replication streams, long-lived by design: at most one per follower address
 *               (a follower's new stream replaces its old one, which may be half-open), and
 *               at most as many as the shard has followers in the node's metadata
 *               (`streamFollowers()`); when that is full, streams of addresses that are not
 *               followers (a member removed) are cut to make room. Whether the address is a
 *               member at all is the leader machine's check (NOT_A_MEMBER), after this: a
 *               name outside the shard is let through to be refused there.
 *               A drain does not wait for streams.
 *
 * /healthz takes no pool: it does no work, and a node must be able to say it is alive while
 * full. A refusal is OVERLOADED (503, Retry-After).
 *
 * Each request holds one `Ticket`, released exactly once when its response closes.
 * Concurrency: everything runs on the event loop; counts change only synchronously.
 */
import type { ServerResponse } from 'node:http';
import { ClusterError } from '../protocol/errors.ts';
import { BODIES_RECEIVING_MAX, BODY_BYTES_RECEIVING_MAX } from './limits.ts';

export interface AdmissionLimits {
  /** Clients' requests served at once (`inflight_requests_max`). */
  servingMax: number;
  /** Node-to-node requests (internal routes) served at once. */
  internalServingMax: number;
  /** The shard's followers as this node knows them, read at each stream open: the streams' bound. */
  streamFollowers: () => readonly string[];
}

export interface AdmissionCounts {
  serving: number;
  internalServing: number;
  receiving: number;
  receivingBytes: number;
  streams: number;
}

export class Admission {
  serving = 0;
  internalServing = 0;
  receiving = 0;
  receivingBytes = 0;
  /** Open streams by follower address. */
  readonly streams = new Map<string, ServerResponse>();
  private idle: (() => void) | undefined;

  constructor(readonly limits: AdmissionLimits) {}

  /** A ticket for a client's request, or a node's (`internal`: an internal route). */
  ticket(internal = false): Ticket {
    return new Ticket(this, internal);
  }

  counts(): AdmissionCounts {
    return { serving: this.serving, internalServing: this.internalServing, receiving: this.receiving, receivingBytes: this.receivingBytes, streams: this.streams.size };
  }

  /** Requests a drain waits for: all but replication streams, which last until cut. */
  get busy(): boolean {
    return this.serving + this.internalServing + this.receiving > 0;
  }

  /** Calls `done` once nothing is served or received (at once if so already). */
  whenIdle(done: () => void): void {
    if (!this.busy) return done();
    this.idle = done;
  }

  /** A ticket gave its pool back. */
  released(): void {
    if (this.idle && !this.busy) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }
}

/** Cuts the streams of addresses not in `followers` (former members, refused names); their 'close' frees their places. */
function cutFormerFollowers(streams: Map<string, ServerResponse>, followers: readonly string[]): void {
  for (const [node, res] of [...streams]) {
    if (followers.includes(node)) continue;
    streams.delete(node);
    res.destroy();
  }
}

type TicketState = 'none' | 'receiving' | 'serving' | 'stream' | 'released';

/** One request's hold on the pools: none, then receiving and/or serving, or a stream; released once. */
export class Ticket {
  private state: TicketState = 'none';
  private bytes = 0;
  private node: string | undefined;
  private res: ServerResponse | undefined;

  constructor(private readonly admission: Admission, private readonly internal: boolean) {}

  /** Takes a serving slot of its pool (from none or receiving); throws OVERLOADED when all are taken. */
  serve(): void {
    const a = this.admission;
    if (this.state === 'serving') return;
    if (this.state !== 'none' && this.state !== 'receiving') throw new Error(`admission: serve() on a ${this.state} ticket`);
    if (this.state === 'receiving') this.leaveReceiving();
    if (this.internal ? a.internalServing >= a.limits.internalServingMax : a.serving >= a.limits.servingMax) {
      this.state = 'none';
      throw new ClusterError('OVERLOADED', this.internal
        ? `node is serving ${a.internalServing} node-to-node requests, its limit of ${a.limits.internalServingMax}; retry later`
        : `node is serving ${a.serving} requests, its limit of ${a.limits.servingMax} (inflight_requests_max); retry later`);
    }
    if (this.internal) a.internalServing++;
    else a.serving++;
    this.state = 'serving';
  }

  /** Starts receiving a body; throws OVERLOADED when BODIES_RECEIVING_MAX bodies are arriving. */
  receive(): void {
    const a = this.admission;
    if (this.state !== 'none') throw new Error(`admission: receive() on a ${this.state} ticket`);
    if (a.receiving >= BODIES_RECEIVING_MAX) {
      throw new ClusterError('OVERLOADED', `node is receiving ${a.receiving} request bodies, its limit; retry later`);
    }
    a.receiving++;
    this.state = 'receiving';
  }

  /** Counts `n` more body bytes held; throws OVERLOADED past BODY_BYTES_RECEIVING_MAX for all bodies together. */
  received(n: number): void {
    const a = this.admission;
    if (this.state !== 'receiving') return;
    if (a.receivingBytes + n > BODY_BYTES_RECEIVING_MAX) {
      throw new ClusterError('OVERLOADED', `request bodies in transit hold ${a.receivingBytes} bytes; this one would pass the ${BODY_BYTES_RECEIVING_MAX}-byte limit; retry later`);
    }
    a.receivingBytes += n;
    this.bytes += n;
  }

  /**
   * Holds a stream for follower `node`: replaces that node's open stream (its response is
   * destroyed), or takes a new place, cutting streams of non-followers if none is free.
   */
  stream(node: string, res: ServerResponse): void {
    const a = this.admission;
    if (this.state !== 'none') throw new Error(`admission: stream() on a ${this.state} ticket`);
    const previous = a.streams.get(node);
    const followers = a.limits.streamFollowers();
    // A name outside the shard takes a place without the bound: the members check refuses it
    // at once (403 NOT_A_MEMBER, not OVERLOADED), and a follower that needs the place cuts it.
    // Once the non-followers are cut, every follower but this one holds at most one place, so
    // the places never outnumber the followers for long.
    if (!previous && followers.includes(node) && a.streams.size >= followers.length) cutFormerFollowers(a.streams, followers);
    a.streams.set(node, res);
    previous?.destroy();
    this.state = 'stream';
    this.node = node;
    this.res = res;
  }

  /** Gives back whatever the ticket holds; later calls do nothing. */
  release(): void {
    const a = this.admission;
    switch (this.state) {
      case 'receiving':
        this.leaveReceiving();
        break;
      case 'serving':
        if (this.internal) a.internalServing--;
        else a.serving--;
        break;
      case 'stream':
        // A replaced stream's place belongs to its successor.
        if (a.streams.get(this.node!) === this.res) a.streams.delete(this.node!);
        break;
    }
    const held = this.state !== 'none' && this.state !== 'released';
    this.state = 'released';
    if (held) a.released();
  }

  private leaveReceiving(): void {
    const a = this.admission;
    a.receiving--;
    a.receivingBytes -= this.bytes;
    this.bytes = 0;
  }
}
