/**
 * A node's recent events, for the dashboard (`GET /admin/events`, docs/api.md): what changed in
 * the cluster metadata it adopted (elections, handovers, in-sync changes, migrations, shards
 * added or removed; control/metadata-events.ts) and what its own log said at info or above (its
 * role changes, snapshot installs, hand-overs, failures), whatever level the log itself runs at.
 *
 * Two rings, each of EVENTS_KEPT_MAX: the cluster's changes and the node's log lines, so a
 * burst of warnings cannot push the last election out. Ids grow across both, so a reader asks
 * for what came after the last id it saw.
 *
 * Concurrency: all on the event loop; `record` and `list` never interleave.
 */
import { metadataEvents } from './control/metadata-events.ts';
import type { Metadata } from './control/metadata.ts';
import { EVENT_FIELDS_BYTES_MAX, EVENTS_KEPT_MAX } from './limits.ts';
import type { Log, LogLevel } from './log.ts';

export type EventSource = 'cluster' | 'node';

export interface NodeEvent {
  /** Grows by one per event on this node, from 1. */
  id: number;
  /** Wall-clock time, ms since the epoch (for display; nodes' clocks may differ). */
  timeMs: number;
  /** `cluster`: a metadata change this node adopted; `node`: one of its own log lines. */
  source: EventSource;
  /** A metadata change's kind (election, in-sync, migration, …), or the log line's level. */
  kind: string;
  message: string;
  fields: Record<string, unknown>;
}

/** A ring of at most `capacity` items, oldest dropped first. */
class Ring<T> {
  private readonly items: T[] = [];
  constructor(private readonly capacity: number) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.capacity) this.items.shift();
  }

  all(): readonly T[] {
    return this.items;
  }
}

export class EventLog {
  private nextId = 1;
  private readonly cluster: Ring<NodeEvent>;
  private readonly node: Ring<NodeEvent>;
  private metadata: Metadata | undefined;

  constructor(private readonly now: () => number = Date.now, capacity = EVENTS_KEPT_MAX) {
    this.cluster = new Ring(capacity);
    this.node = new Ring(capacity);
  }

  /** Records what changed since the last metadata seen; the first one seen is the baseline. */
  observeMetadata(metadata: Metadata): void {
    const before = this.metadata;
    if (before && metadata.version <= before.version) return;
    this.metadata = metadata;
    if (!before) return;
    for (const e of metadataEvents(before, metadata)) this.push(this.cluster, 'cluster', e.kind, e.message, e.fields);
  }

  /** One of the node's own log lines. */
  recordLine(level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void {
    this.push(this.node, 'node', level, message, clipFields(fields));
  }

  /** Events with an id above `after`, oldest first. */
  list(after = 0): NodeEvent[] {
    return [...this.cluster.all(), ...this.node.all()].filter((e) => e.id > after).sort((a, b) => a.id - b.id);
  }

  private push(ring: Ring<NodeEvent>, source: EventSource, kind: string, message: string, fields: Record<string, unknown>): void {
    ring.push({ id: this.nextId++, timeMs: this.now(), source, kind, message, fields });
  }
}

const RECORDED_LEVELS: ReadonlySet<LogLevel> = new Set(['info', 'warn', 'error']);

/** A Log that also records its info, warn and error lines in `events`, then writes every line to `inner`. */
export function recordingLog(inner: Log, events: EventLog): Log {
  const log: Log = (level, message, fields) => {
    if (RECORDED_LEVELS.has(level)) events.recordLine(level, message, fields);
    inner(level, message, fields);
  };
  log.enabled = (level) => RECORDED_LEVELS.has(level) || (inner.enabled?.(level) ?? true);
  return log;
}

/** A log line's fields for the ring: no stacks, and at most EVENT_FIELDS_BYTES_MAX of JSON. */
function clipFields(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  const { stack: _stack, ...rest } = fields;
  let text: string;
  try {
    text = JSON.stringify(rest);
  } catch {
    return { unprintable: true };
  }
  return text.length <= EVENT_FIELDS_BYTES_MAX ? JSON.parse(text) as Record<string, unknown> : { clipped: `${text.slice(0, EVENT_FIELDS_BYTES_MAX)}…` };
}
