/**
 * The simulator's network: every batch a member sends is encoded with the real codec
 * (raft-codec.ts), held for a seeded delay, and decoded on delivery, so members never share
 * objects and the codec is exercised on every message. Faults: drops, duplicates, delays
 * (which reorder), and blocked links, one-way (asymmetric partitions) or both ways. A link
 * blocked at delivery time drops what was in flight on it.
 *
 * It also watches what goes by: a member that sends Append, Heartbeat or Snapshot in a term
 * acts as that term's leader, which the invariant checker holds to Election Safety.
 */
import { decodeMessages, encodeMessages, MessageType, type Message } from '../../../cluster/raft/index.ts';

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** Delivery after 1 + [0, delayMax) sub-steps; 1 in 50 batches waits up to 10× longer. */
  delayMax: number;
}

interface InFlight {
  deliverAt: number;
  from: string;
  to: string;
  payload: Uint8Array;
}

export class SimNetwork {
  private inFlight: InFlight[] = [];
  private readonly blocked = new Set<string>();
  faults: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMax: 1 };
  messagesSent = 0;
  payloadsSent = 0;

  constructor(private readonly random: () => number, private readonly onLeaderMessage: (term: number, from: string) => void) {}

  send(from: string, messages: readonly Message[], now: number): void {
    const byDestination = new Map<string, Message[]>();
    for (const m of messages) {
      if (m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot) this.onLeaderMessage(m.term, m.from);
      const batch = byDestination.get(m.to);
      if (batch) batch.push(m);
      else byDestination.set(m.to, [m]);
    }
    for (const [to, batch] of byDestination) {
      this.messagesSent += batch.length;
      const payload = encodeMessages(batch);
      const copies = this.random() < this.faults.duplicateRate ? 2 : 1;
      for (let k = 0; k < copies; k++) {
        if (this.random() < this.faults.dropRate) continue;
        const slow = this.random() < 0.02 ? 10 : 1;
        this.inFlight.push({ deliverAt: now + 1 + Math.floor(this.random() * this.faults.delayMax * slow), from, to, payload });
        this.payloadsSent++;
      }
    }
  }

  /** The batches due by `now`, in a seeded shuffled order, decoded. */
  due(now: number): Array<{ to: string; messages: Message[] }> {
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.inFlight) (f.deliverAt <= now ? due : later).push(f);
    this.inFlight = later;
    for (let i = due.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    return due.filter((f) => !this.blocked.has(`${f.from}->${f.to}`)).map((f) => ({ to: f.to, messages: decodeMessages(f.payload) }));
  }

  block(from: string, to: string): void {
    this.blocked.add(`${from}->${to}`);
  }

  /** Splits members into two sides that cannot talk. */
  split(sideA: readonly string[], sideB: readonly string[]): void {
    for (const a of sideA) for (const b of sideB) {
      this.block(a, b);
      this.block(b, a);
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  get inFlightCount(): number {
    return this.inFlight.length;
  }
}
