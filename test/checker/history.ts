/**
 * A history of client operations on single-key registers, recorded the way Jepsen records
 * them: each operation is an `invoke` event when the client sends it and one completion
 * event when the client learns its outcome.
 *
 *   ok    the operation took effect (a read carries the value it saw);
 *   fail  the operation certainly did not take effect (e.g. a 400, or a 503 before the write);
 *   info  the outcome is unknown (a timeout, a reset connection): the operation may have
 *         taken effect at any moment after its invoke, or never.
 *
 * An operation with no completion when the history is checked counts as `info`.
 *
 * Invariants (asserted, since breaking them is a bug in the test that records):
 * 1. `events` is in real-time order: an event is appended when it happens, and a completion
 *    is appended after its invoke. The checkers use this order, not the timestamps, which
 *    are for people reading an explanation.
 * 2. Each operation completes at most once.
 * 3. A read completes `ok` with a value (`null` for "no such key"); other operations
 *    complete without one.
 *
 * Concurrency: the recorder is synchronous. Call `invoke` right before the request is sent
 * and `ok`/`fail`/`info` right after its answer arrives, with no `await` in between, so
 * the recorded order is never later than the real order for an invoke, nor earlier for a
 * completion. That keeps every real-time constraint the checkers derive sound.
 */
import assert from 'node:assert/strict';

/** A register's value: bytes as a string (encode binary keys and values, e.g. as hex), or `null` for "absent". */
export type Value = string | null;

/** Who issued an operation; informational (it is printed in explanations). */
export type ProcessId = number | string;

/** What a client asked for. A read's result is in its `ok` event, not here. */
export type Op =
  | { type: 'read'; key: string }
  | { type: 'write'; key: string; value: string }
  | { type: 'delete'; key: string };

export type OpType = Op['type'];

export type EventKind = 'invoke' | 'ok' | 'fail' | 'info';

/** One event of a history. Completion events repeat their invoke's `process` and `op`. */
export interface HistoryEvent {
  kind: EventKind;
  /** The operation's id: links a completion to its invoke. Dense, from 0. */
  id: number;
  process: ProcessId;
  op: Op;
  /** On the `ok` of a read: the value read (`null` if the key was absent). */
  value?: Value;
  /** From the recorder's clock; non-decreasing along the history. */
  time: number;
  /** On `fail` or `info`: why, for explanations. */
  error?: string;
}

export interface HistoryOptions {
  /** Timestamps for events; default `performance.now`. Must not go backwards. */
  clock?: () => number;
}

/**
 * Records a history. One History may hold operations on any number of keys.
 *
 * @example
 * ```ts
 * const h = new History();
 * const w = h.invoke(1, { type: 'write', key: 'k', value: 'v1' });
 * const r = h.invoke(2, { type: 'read', key: 'k' });
 * h.ok(w);
 * h.ok(r, 'v1');                       // or h.ok(r, null): the key was absent
 * const d = h.invoke(1, { type: 'delete', key: 'k' });
 * h.info(d, 'timeout');                // may or may not have happened
 * checkLinearizable(h.events).ok;      // true
 * ```
 */
export class History {
  /** Every event in real-time order. Read-only for callers. */
  readonly events: HistoryEvent[] = [];
  private readonly clock: () => number;
  private readonly invokes: HistoryEvent[] = [];
  private readonly completed: boolean[] = [];
  private lastTime = -Infinity;

  constructor(options: HistoryOptions = {}) {
    this.clock = options.clock ?? (() => performance.now());
  }

  /** Records that `process` sends `op`; returns the operation's id for its completion. */
  invoke(process: ProcessId, op: Op): number {
    assertOp(op);
    const id = this.invokes.length;
    const event: HistoryEvent = { kind: 'invoke', id, process, op: { ...op }, time: this.now() };
    this.invokes.push(event);
    this.completed.push(false);
    this.events.push(event);
    return id;
  }

  /** The operation took effect; a read passes the value it saw (`null`: the key was absent). */
  ok(id: number, value?: Value): void {
    const invoke = this.pending(id, 'ok');
    if (invoke.op.type === 'read') {
      assert.ok(value === null || typeof value === 'string', `history: read ${id} completes ok with a value or null, got ${String(value)}`);
      this.complete(invoke, 'ok', { value });
    } else {
      assert.equal(value, undefined, `history: ${invoke.op.type} ${id} completes ok without a value`);
      this.complete(invoke, 'ok', {});
    }
  }

  /** The operation certainly did not take effect. */
  fail(id: number, error?: string): void {
    this.complete(this.pending(id, 'fail'), 'fail', error === undefined ? {} : { error });
  }

  /** The outcome is unknown: it may have taken effect at any time after its invoke, or never. */
  info(id: number, error?: string): void {
    this.complete(this.pending(id, 'info'), 'info', error === undefined ? {} : { error });
  }

  /** Ids of operations invoked and not yet completed. */
  pendingIds(): number[] {
    return this.completed.flatMap((done, id) => (done ? [] : [id]));
  }

  private pending(id: number, kind: EventKind): HistoryEvent {
    const invoke = this.invokes[id];
    assert.ok(invoke, `history: ${kind} of unknown operation ${id}`);
    assert.ok(!this.completed[id], `history: operation ${id} is already complete; ${kind} again`);
    return invoke;
  }

  private complete(invoke: HistoryEvent, kind: EventKind, extra: { value?: Value; error?: string }): void {
    this.completed[invoke.id] = true;
    this.events.push({ kind, id: invoke.id, process: invoke.process, op: invoke.op, ...extra, time: this.now() });
  }

  private now(): number {
    const time = this.clock();
    assert.ok(time >= this.lastTime, `history: clock went backwards from ${this.lastTime} to ${time}`);
    this.lastTime = time;
    return time;
  }
}

/** A clock that counts 0, 1, 2, …: deterministic timestamps for tests and generated histories. */
export function counterClock(): () => number {
  let next = 0;
  return () => next++;
}

function assertOp(op: Op): void {
  assert.ok(op.type === 'read' || op.type === 'write' || op.type === 'delete', `history: unknown op type ${JSON.stringify((op as { type: unknown }).type)}`);
  assert.equal(typeof op.key, 'string', 'history: an op needs a string key');
  if (op.type === 'write') assert.equal(typeof op.value, 'string', `history: write of ${JSON.stringify(op.key)} needs a string value`);
}

/** One operation of a history, its events joined: the unit both checkers reason about. */
export interface Operation {
  id: number;
  process: ProcessId;
  op: Op;
  /** `info` also stands for "never completed". */
  outcome: 'ok' | 'fail' | 'info';
  /** Read result, for an `ok` read. */
  value?: Value;
  /** Indexes of the invoke and completion events in the history (completion: Infinity if none). */
  invokeIndex: number;
  completeIndex: number;
  invokeTime: number;
  completeTime?: number;
  error?: string;
}

/** Joins invoke and completion events into operations, checking the history's invariants. */
export function operationsOf(events: readonly HistoryEvent[]): Operation[] {
  const ops = new Map<number, Operation>();
  let lastTime = -Infinity;
  events.forEach((e, index) => {
    assert.ok(e.time >= lastTime, `history: event ${index} (${e.kind} of ${e.id}) has time ${e.time} before ${lastTime}`);
    lastTime = e.time;
    if (e.kind === 'invoke') {
      assert.ok(!ops.has(e.id), `history: operation ${e.id} is invoked twice`);
      ops.set(e.id, { id: e.id, process: e.process, op: e.op, outcome: 'info', invokeIndex: index, completeIndex: Infinity, invokeTime: e.time });
      return;
    }
    const op = ops.get(e.id);
    assert.ok(op, `history: event ${index} completes operation ${e.id}, which was not invoked before it`);
    assert.equal(op.completeIndex, Infinity, `history: operation ${e.id} completes twice`);
    op.outcome = e.kind;
    op.completeIndex = index;
    op.completeTime = e.time;
    if (e.error !== undefined) op.error = e.error;
    if (e.kind === 'ok' && op.op.type === 'read') {
      assert.ok(e.value === null || typeof e.value === 'string', `history: read ${e.id} completes ok without a value`);
      op.value = e.value;
    }
  });
  return [...ops.values()];
}

/** `p1 write k "v"`-style text for explanations. */
export function describeOperation(o: Operation): string {
  const op = o.op;
  const what = op.type === 'write' ? `write ${quote(op.key)} = ${quote(op.value)}` : op.type === 'delete' ? `delete ${quote(op.key)}` : `read ${quote(op.key)}`;
  const result = o.outcome === 'ok' && op.type === 'read' ? ` -> ${showValue(o.value ?? null)}` : o.outcome === 'ok' ? '' : ` (${o.outcome}${o.error ? `: ${o.error}` : ''})`;
  const done = o.completeTime === undefined ? 'never completed' : `${o.outcome === 'info' ? 'given up' : 'completed'} at ${o.completeTime}`;
  return `op ${o.id} by process ${o.process}: ${what}${result}, invoked at ${o.invokeTime}, ${done}`;
}

export function showValue(value: Value): string {
  return value === null ? 'absent' : quote(value);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
