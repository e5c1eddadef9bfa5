/**
 * Who may take the node's resources, counted in three pools so that no cheap trick fills
 * another's (issue 16, finding 4):
 *
 *   serving     requests being worked on: no body, or their body has arrived. Bounded by
 *               `inflight_requests_max`; engine work and whole bodies in memory live here.
 *   receiving   requests whose body is still arriving. A client that sends a head and then
 *               stalls costs a socket and the bytes it sent, not a serving slot, so a few
 *               hundred stalled bodies cannot make everyone else wait for the request
 *               timeout. Bounded by count (BODIES_RECEIVING_MAX) and by the bytes they hold
 *               together (BODY_BYTES_RECEIVING_MAX).
 *   streams     replication streams, long-lived by design: at most one per follower address
 *               (a follower's new stream replaces its old one, which may be half-open), and
 *               at most `streamsMax()` addresses (the shard's followers, once the caller
 *               knows them; REPLICAS_PER_SHARD_MAX until then).
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
  /** Requests served at once (`inflight_requests_max`). */
  servingMax: number;
  /** Open replication streams, read at each open (the shard's follower count, once wired). */
  streamsMax: () => number;
}

export interface AdmissionCounts {
  serving: number;
  receiving: number;
  receivingBytes: number;
  streams: number;
}

export class Admission {
  serving = 0;
  receiving = 0;
  receivingBytes = 0;
  /** Open streams by follower address. */
  readonly streams = new Map<string, ServerResponse>();
  private idle: (() => void) | undefined;

  constructor(readonly limits: AdmissionLimits) {}

  ticket(): Ticket {
    return new Ticket(this);
  }

  counts(): AdmissionCounts {
    return { serving: this.serving, receiving: this.receiving, receivingBytes: this.receivingBytes, streams: this.streams.size };
  }

  get busy(): boolean {
    return this.serving + this.receiving + this.streams.size > 0;
  }

  /** Calls `done` once nothing is served, received or streamed (at once if so already). */
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

type TicketState = 'none' | 'receiving' | 'serving' | 'stream' | 'released';

/** One request's hold on the pools: none, then receiving and/or serving, or a stream; released once. */
export class Ticket {
  private state: TicketState = 'none';
  private bytes = 0;
  private node: string | undefined;
  private res: ServerResponse | undefined;

  constructor(private readonly admission: Admission) {}

  /** Takes a serving slot (from none or receiving); throws OVERLOADED when all are taken. */
  serve(): void {
    const a = this.admission;
    if (this.state === 'serving') return;
    if (this.state !== 'none' && this.state !== 'receiving') throw new Error(`admission: serve() on a ${this.state} ticket`);
    if (this.state === 'receiving') this.leaveReceiving();
    if (a.serving >= a.limits.servingMax) {
      this.state = 'none';
      throw new ClusterError('OVERLOADED', `node is serving ${a.serving} requests, its limit (inflight_requests_max); retry later`);
    }
    a.serving++;
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
   * destroyed), or takes a new place; throws OVERLOADED when `streamsMax()` nodes stream.
   */
  stream(node: string, res: ServerResponse): void {
    const a = this.admission;
    if (this.state !== 'none') throw new Error(`admission: stream() on a ${this.state} ticket`);
    const previous = a.streams.get(node);
    if (!previous && a.streams.size >= a.limits.streamsMax()) {
      throw new ClusterError('OVERLOADED', `node serves ${a.streams.size} replication streams, its limit; a follower reconnecting replaces its own`);
    }
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
        a.serving--;
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
