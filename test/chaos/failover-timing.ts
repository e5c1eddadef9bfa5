/**
 * How long each failover of a chaos run left its shard unwritable, and where that time went.
 * Pure: the kills, the control plane's elections and the nodes' role changes (from their log
 * lines), the moments a probe first saw the new leader ready, and the workload's
 * acknowledgements go in, all on one clock (the History's, in ms); timings come out.
 *
 * One failover, from the kill -9 of shard S's leader at term T:
 *
 *   kill ──lease──▶ elected ──metadata──▶ leading ──lease grant──▶ ready ──clients──▶ first ack
 *
 *   lease     until the control plane elected a leader for S at a term above T: the old
 *             lease running out (lease_ms × (1 + 2 × drift%) after the last grant), the next
 *             tick, asking the in-sync members where they stand, committing `elect`
 *   metadata  until the new leader logged "leading the shard" at that term (its watch of the
 *             metadata answered)
 *   grant     until the new leader answered /healthz ready (it asked for and got its lease), or
 *             acknowledged a write at its term, whichever was seen first
 *   clients   until the first write of S was acknowledged at a term above T (workers backing
 *             off, refreshing their topology, retrying)
 *
 * Unavailability is kill → first acknowledged write at a term above T (issue 14's measure).
 * A part is undefined when the event that ends it was not seen (a lost log line, a probe that
 * missed); unavailability is undefined only if no write of S was acknowledged afterwards.
 */
import { firstAcknowledged, type Acknowledgement } from '../hosts/acknowledgements.ts';

export interface Kill {
  shard: string;
  node: string;
  /** The shard's term when its leader was killed. */
  term: number;
  time: number;
}

/** An event at a term of a shard: an election committed, a node starting to lead, a leader seen ready. */
export interface TermEvent {
  shard: string;
  node: string;
  term: number;
  time: number;
}

export interface FailoverTiming {
  kill: Kill;
  elected?: TermEvent;
  leading?: TermEvent;
  ready?: TermEvent;
  firstAck?: Acknowledgement;
  unavailableMs?: number;
  parts: { leaseMs?: number; metadataMs?: number; grantMs?: number; clientsMs?: number };
}

/** The timing of each kill, in kill order. */
export function failoverTimings(kills: readonly Kill[], elections: readonly TermEvent[], leading: readonly TermEvent[], ready: readonly TermEvent[], acks: readonly Acknowledgement[]): FailoverTiming[] {
  return [...kills].sort((a, b) => a.time - b.time).map((kill) => {
    const elected = firstAfter(elections, kill);
    const lead = elected && leading.find((e) => e.shard === kill.shard && e.node === elected.node && e.term === elected.term);
    const firstAck = firstAcknowledged(acks, kill.shard, kill.time, kill.term);
    const seen = elected && readyBy(ready.find((e) => e.shard === kill.shard && e.term === elected.term), firstAck, elected);
    return {
      kill, elected, leading: lead, ready: seen, firstAck,
      unavailableMs: firstAck && firstAck.time - kill.time,
      parts: {
        leaseMs: elected && elected.time - kill.time,
        metadataMs: elected && lead && lead.time - elected.time,
        grantMs: lead && seen && seen.time - lead.time,
        clientsMs: firstAck && (seen ?? lead) && firstAck.time - (seen ?? lead)!.time,
      },
    };
  });
}

/**
 * When the new leader was ready: when the probe saw it, or when it acknowledged a write at its
 * term if that came first (a busy machine slows the probe too; an acknowledgement proves the lease).
 */
function readyBy(probed: TermEvent | undefined, firstAck: Acknowledgement | undefined, elected: TermEvent): TermEvent | undefined {
  const acked = firstAck && firstAck.term === elected.term ? { shard: elected.shard, node: firstAck.node, term: elected.term, time: firstAck.time } : undefined;
  if (!probed || !acked) return probed ?? acked;
  return acked.time < probed.time ? acked : probed;
}

/** The earliest event of the kill's shard after it, at a term above the kill's. */
function firstAfter(events: readonly TermEvent[], kill: Kill): TermEvent | undefined {
  let best: TermEvent | undefined;
  for (const e of events) {
    if (e.shard !== kill.shard || e.term <= kill.term || e.time < kill.time) continue;
    if (!best || e.time < best.time) best = e;
  }
  return best;
}

/** The nearest-rank percentile (`p` in (0, 100]) of `values`; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

export interface Spread {
  count: number;
  p50?: number;
  p99?: number;
  max?: number;
}

export function spread(values: readonly (number | undefined)[]): Spread {
  const known = values.filter((v): v is number => v !== undefined);
  return { count: known.length, p50: percentile(known, 50), p99: percentile(known, 99), max: percentile(known, 100) };
}

/** `p50 1234 ms, p99 2345 ms, max 2345 ms (n 20)`, or `none`. */
export function formatSpread(s: Spread): string {
  if (s.count === 0) return 'none';
  const ms = (v: number | undefined) => `${Math.round(v!)} ms`;
  return `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)} (n ${s.count})`;
}
