/**
 * Per-key linearizability of single-key registers (read, write, delete), by the search of
 * Wing & Gong as improved by Lowe ("Testing for linearizability", 2017), the algorithm
 * behind knossos's and porcupine's checkers. Written from the paper's description.
 *
 * Why per key is enough: linearizability is local (Herlihy & Wing): a history of operations
 * that each touch one object is linearizable iff each object's sub-history is. Every
 * operation here touches one key, so each key is searched on its own, which keeps the
 * search small.
 *
 * The search, for one key: a list of call and return entries in history order. Walking it,
 * a call entry may be linearized if the register allows it in the current state (a read
 * must see the current value); it is then lifted out of the list (with its return entry)
 * and the walk restarts from the head. Reaching a return entry whose call has not been
 * linearized means that operation finished before anything placed so far could explain
 * it: backtrack to the last choice and try the next call. Lowe's memoization: the pair
 * (set of linearized operations, register value) is remembered; reaching it again by
 * another order cannot succeed where the first did not, so it is pruned.
 *
 * Outcomes: `fail` operations are dropped (they did not happen). `info` and never-completed
 * operations may have happened at any point after their invoke, or never: their return
 * entry goes at the end of the history, and since a write or delete is always allowed,
 * "at the end" stands for "never" (an info write of a value no other write produces must
 * precede every read of that value, so its return goes just before the first one's). An `info` read observed nothing and is dropped; so is an
 * `info` write (or delete) whose value no read returned, since removing it from any
 * linearization leaves a linearization.
 *
 * The search is exponential in the worst case: `stepsMax` bounds it per key, and a key
 * that hits the bound is reported `unknown` rather than hanging the test.
 *
 * Pure and synchronous.
 */
import { describeOperation, operationsOf, showValue, type HistoryEvent, type Operation, type Value } from './history.ts';

export interface LinearizabilityOptions {
  /** Search steps per key before the answer is `unknown`. Default 2,000,000. */
  stepsMax?: number;
  /** Each key's value before the history: one value for all keys or a map by key. Default `null` (absent). */
  initial?: Value | ReadonlyMap<string, Value>;
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface LinearizabilityResult {
  /** True only when every key is linearizable; `unknown` is not ok. */
  ok: boolean;
  verdict: Verdict;
  /** The key that is not linearizable (or whose search gave up). */
  key?: string;
  /** For people: why, with the operations involved. */
  explanation: string;
  /** Keys and operations looked at (after dropping failed ones), and search steps taken. */
  keys: number;
  operations: number;
  steps: number;
}

/** Per-key answer of the search. */
interface KeyResult {
  verdict: Verdict;
  steps: number;
  explanation: string;
}

export const LINEARIZABILITY_STEPS_MAX_DEFAULT = 2_000_000;

/**
 * Checks that the history is linearizable, key by key, as a set of registers.
 *
 * @example
 * ```ts
 * const h = new History();
 * const w = h.invoke(1, { type: 'write', key: 'k', value: 'a' });
 * h.ok(w);
 * const r = h.invoke(2, { type: 'read', key: 'k' });
 * h.ok(r, null);                         // stale: the write had completed
 * const result = checkLinearizable(h.events);
 * result.ok;                             // false
 * result.key;                            // 'k'
 * console.log(result.explanation);       // the operations that cannot be ordered
 * ```
 */
export function checkLinearizable(events: readonly HistoryEvent[], options: LinearizabilityOptions = {}): LinearizabilityResult {
  const stepsMax = options.stepsMax ?? LINEARIZABILITY_STEPS_MAX_DEFAULT;
  const byKey = new Map<string, Operation[]>();
  for (const o of operationsOf(events)) {
    if (o.outcome === 'fail') continue;
    const list = byKey.get(o.op.key) ?? [];
    list.push(o);
    byKey.set(o.op.key, list);
  }
  let steps = 0;
  let operations = 0;
  let firstUnknown: { key: string; explanation: string } | undefined;
  for (const [key, ops] of byKey) {
    operations += ops.length;
    const result = checkKey(key, ops, initialValue(options.initial, key), stepsMax);
    steps += result.steps;
    const summary = { keys: byKey.size, operations, steps };
    if (result.verdict === 'not-linearizable') return { ok: false, verdict: result.verdict, key, explanation: result.explanation, ...summary };
    if (result.verdict === 'unknown' && !firstUnknown) firstUnknown = { key, explanation: result.explanation };
  }
  const summary = { keys: byKey.size, operations, steps };
  if (firstUnknown) return { ok: false, verdict: 'unknown', ...firstUnknown, ...summary };
  return { ok: true, verdict: 'linearizable', explanation: `${byKey.size} keys, ${operations} operations: linearizable`, ...summary };
}

function initialValue(initial: LinearizabilityOptions['initial'], key: string): Value {
  if (initial === undefined || initial === null || typeof initial === 'string') return initial ?? null;
  return initial.get(key) ?? null;
}

/** One key: drop operations that cannot matter, check reads have a source, then search. */
function checkKey(key: string, all: Operation[], initial: Value, stepsMax: number): KeyResult {
  const readValues = new Set<Value>(all.filter((o) => o.op.type === 'read' && o.outcome === 'ok').map((o) => o.value ?? null));
  const ops = all.filter((o) => {
    if (o.outcome !== 'info') return true;
    if (o.op.type === 'read') return false;
    return readValues.has(o.op.type === 'write' ? o.op.value : null);
  });
  const unexplained = readWithoutSource(ops, initial);
  if (unexplained) {
    return {
      verdict: 'not-linearizable',
      steps: 0,
      explanation: `key ${JSON.stringify(key)} is not linearizable: ${describeOperation(unexplained)} read a value that no write or delete invoked before the read completed could have produced (failed ones do not count) (the key started ${showValue(initial)})`,
    };
  }
  return search(key, ops, initial, stepsMax);
}

/** An ok read of a value that neither the initial state nor any write invoked before the read's completion explains. */
function readWithoutSource(ops: Operation[], initial: Value): Operation | undefined {
  // The earliest invoke of a mutation producing each value; one pass, so long histories stay linear.
  const firstInvoke = new Map<Value, number>();
  for (const o of ops) {
    if (o.op.type === 'read') continue;
    const produced = o.op.type === 'write' ? o.op.value : null;
    firstInvoke.set(produced, Math.min(firstInvoke.get(produced) ?? Infinity, o.invokeIndex));
  }
  return ops.find((r) => {
    if (r.op.type !== 'read' || r.outcome !== 'ok') return false;
    const v = r.value ?? null;
    return v !== initial && !((firstInvoke.get(v) ?? Infinity) < r.completeIndex);
  });
}

const NIL = -1;

/** The WGL search with Lowe's memoization over one key's operations. */
function search(key: string, ops: Operation[], initial: Value, stepsMax: number): KeyResult {
  const n = ops.length;
  // Register values as small integers: 0 is absent, i > 0 the i-th distinct string.
  const codes = new Map<Value, number>([[null, 0]]);
  const code = (v: Value) => codes.get(v) ?? (codes.set(v, codes.size), codes.size - 1);
  const effect = ops.map((o) => (o.op.type === 'write' ? code(o.op.value) : o.op.type === 'delete' ? 0 : -1));
  const observed = ops.map((o) => (o.op.type === 'read' ? code(o.value ?? null) : -1));

  // Entries 0..n-1 are calls, n..2n-1 returns, 2n is the head sentinel.
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1).fill(NIL);
  const prev = new Int32Array(2 * n + 1).fill(NIL);
  const order = entryOrder(ops, initial);
  let last = head;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  const lift = (call: number) => {
    for (const e of [call, call + n]) {
      next[prev[e]!] = next[e]!;
      if (next[e] !== NIL) prev[next[e]!] = prev[e]!;
    }
  };
  const unlift = (call: number) => {
    for (const e of [call + n, call]) {
      next[prev[e]!] = e;
      if (next[e] !== NIL) prev[next[e]!] = e;
    }
  };

  const memo = new Memo(n);
  const stack: { call: number; state: number }[] = [];
  let state = code(initial);
  let steps = 0;
  let deepest: { placed: number[]; blocked: number; state: number } | undefined;

  let entry = next[head]!;
  while (next[head] !== NIL) {
    if (++steps > stepsMax) {
      return { verdict: 'unknown', steps, explanation: `key ${JSON.stringify(key)}: the search gave up after ${stepsMax} steps over ${n} operations; raise stepsMax or shorten the history` };
    }
    if (entry < n) {
      const after = observed[entry]! >= 0 ? (observed[entry] === state ? state : -1) : effect[entry]!;
      if (after >= 0) {
        memo.flip(entry);
        if (memo.add(after)) {
          stack.push({ call: entry, state });
          state = after;
          lift(entry);
          entry = next[head]!;
          continue;
        }
        memo.flip(entry);
      }
      entry = next[entry]!;
      continue;
    }
    // A return entry of an operation not yet linearized: nothing placed so far explains it.
    if (!deepest || stack.length > deepest.placed.length) deepest = { placed: stack.map((s) => s.call), blocked: entry - n, state };
    const top = stack.pop();
    if (!top) break;
    memo.flip(top.call);
    state = top.state;
    unlift(top.call);
    entry = next[top.call]!;
  }
  if (next[head] === NIL) return { verdict: 'linearizable', steps, explanation: '' };
  const values = [...codes.keys()];
  return { verdict: 'not-linearizable', steps, explanation: explain(key, ops, deepest!, values[deepest!.state] ?? null) };
}

/**
 * Calls and returns in history order. An info operation has no return; its return entry goes
 * after everything else, except for an info write of a value no other write of the key
 * produces (and the key did not start with): every read of that value must follow it, so its return can sit just before the
 * first such read's return. That bounds its window, which keeps the search near-linear when
 * clients time out.
 */
function entryOrder(ops: Operation[], initial: Value): number[] {
  const n = ops.length;
  const writers = new Map<string, number>();
  const firstReadReturn = new Map<string, number>();
  for (const o of ops) {
    if (o.op.type === 'write') writers.set(o.op.value, (writers.get(o.op.value) ?? 0) + 1);
    if (o.op.type === 'read' && typeof o.value === 'string') firstReadReturn.set(o.value, Math.min(firstReadReturn.get(o.value) ?? Infinity, o.completeIndex));
  }
  const returnAt = (o: Operation): number => {
    if (o.outcome !== 'info') return o.completeIndex;
    // The initial value could explain those reads too, so it does not count as unique.
    if (o.op.type !== 'write' || writers.get(o.op.value) !== 1 || o.op.value === initial) return Infinity;
    return (firstReadReturn.get(o.op.value) ?? Infinity) - 0.5;
  };
  const entries: { e: number; at: number }[] = [];
  ops.forEach((o, i) => {
    entries.push({ e: i, at: o.invokeIndex });
    entries.push({ e: n + i, at: returnAt(o) });
  });
  return entries.sort((a, b) => a.at - b.at || a.e - b.e).map((x) => x.e);
}

/**
 * Lowe's memo: the (set of linearized operations, register value) pairs already reached.
 * The set is a bitset with an incrementally kept Zobrist hash (two 32-bit halves), so a
 * lookup costs a copy of the bitset only when the pair is new, never a string of it; hash
 * collisions are resolved by comparing bitsets, so pruning is exact.
 */
class Memo {
  private readonly bits: Uint32Array;
  private readonly zobrist: Uint32Array;
  private hashLow = 0;
  private hashHigh = 0;
  private readonly seen = new Map<string, Uint32Array[]>();

  constructor(n: number) {
    this.bits = new Uint32Array(Math.ceil(n / 32));
    this.zobrist = new Uint32Array(2 * n);
    let x = 0x9e3779b9;
    for (let i = 0; i < this.zobrist.length; i++) {
      // xorshift32: deterministic, so a verdict never depends on a random seed.
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.zobrist[i] = x >>> 0;
    }
  }

  /** Adds or removes operation `i` from the set. */
  flip(i: number): void {
    this.bits[i >>> 5]! ^= 1 << (i & 31);
    this.hashLow ^= this.zobrist[2 * i]!;
    this.hashHigh ^= this.zobrist[2 * i + 1]!;
  }

  /** Records (current set, state); false if it was already recorded. */
  add(state: number): boolean {
    const key = `${this.hashLow}:${this.hashHigh}:${state}`;
    const bucket = this.seen.get(key);
    if (bucket?.some((b) => b.every((word, i) => word === this.bits[i]))) return false;
    const copy = this.bits.slice();
    if (bucket) bucket.push(copy);
    else this.seen.set(key, [copy]);
    return true;
  }
}

const PREFIX_SHOWN_MAX = 12;

function explain(key: string, ops: Operation[], deepest: { placed: number[]; blocked: number }, state: Value): string {
  const placed = deepest.placed.map((i) => ops[i]!);
  const shown = placed.slice(-PREFIX_SHOWN_MAX);
  const lines = [
    `key ${JSON.stringify(key)} is not linearizable: no order of its ${ops.length} operations agrees with both the register and real time.`,
    `The deepest the search got placed ${placed.length} of them${placed.length > shown.length ? ` (the last ${shown.length} shown)` : ''}:`,
    ...shown.map((o) => `  ${describeOperation(o)}`),
    `leaving the register ${showValue(state)}; then this operation had completed but could not be placed:`,
    `  ${describeOperation(ops[deepest.blocked]!)}`,
  ];
  return lines.join('\n');
}
