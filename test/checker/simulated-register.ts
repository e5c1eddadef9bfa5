/**
 * A simulated store of registers that is linearizable by construction, for testing the
 * checkers: several processes run operations whose invoke, effect and completion interleave
 * as a schedule dictates; each operation takes effect atomically at one moment between its
 * invoke and its completion. Every history it records is therefore linearizable, and the
 * final values are exact.
 *
 * The schedule is a list of steps (which process moves, and a number that picks what it
 * does), so fast-check can generate and shrink it. When the schedule runs out, the
 * outstanding operations finish in process order.
 *
 * Pure: no clock (timestamps count events), no randomness but the schedule.
 */
import { counterClock, History, type Op, type Value } from './history.ts';

export interface SimulationStep {
  /** Which process moves (taken modulo the process count). */
  process: number;
  /** 0..99: picks the operation, or whether it fails or ends as info. */
  roll: number;
}

export interface SimulationOptions {
  processes: number;
  keys: readonly string[];
  /** Percent of operations that fail without effect. */
  failPercent?: number;
  /** Percent of operations whose client gives up (info), with or without effect. */
  infoPercent?: number;
}

export interface Simulation {
  history: History;
  /** Every key's value after the last operation (`null`: absent). */
  finalValues: Map<string, Value>;
}

type Phase = { op: Op; id: number; applied: boolean; readValue?: Value };

/**
 * Runs the schedule and returns the history and final state.
 *
 * @example
 * ```ts
 * const { history, finalValues } = simulate([{ process: 0, roll: 10 }, { process: 1, roll: 70 }], { processes: 2, keys: ['a'] });
 * checkLinearizable(history.events).ok;            // always true
 * findLostWrites(history.events, finalValues);     // always []
 * ```
 */
export function simulate(schedule: readonly SimulationStep[], options: SimulationOptions): Simulation {
  const history = new History({ clock: counterClock() });
  const store = new Map<string, Value>(options.keys.map((k) => [k, null]));
  const outstanding: (Phase | undefined)[] = Array.from({ length: options.processes }, () => undefined);
  let written = 0;
  const step = (p: number, roll: number) => {
    const phase = outstanding[p];
    if (!phase) {
      const op = pickOp(roll, options.keys, () => `p${p}-${written++}`);
      outstanding[p] = { op, id: history.invoke(p, op), applied: false };
      return;
    }
    if (!phase.applied && roll < (options.failPercent ?? 10)) {
      history.fail(phase.id, 'refused');
      outstanding[p] = undefined;
      return;
    }
    if (roll >= 100 - (options.infoPercent ?? 10)) {
      history.info(phase.id, 'timeout');
      outstanding[p] = undefined;
      return;
    }
    if (!phase.applied && roll >= 50) {
      apply(store, phase);
      return;
    }
    if (!phase.applied) apply(store, phase);
    completeOk(phase);
  };
  const completeOk = (phase: Phase) => {
    if (phase.op.type === 'read') history.ok(phase.id, phase.readValue ?? null);
    else history.ok(phase.id);
    outstanding[outstanding.indexOf(phase)] = undefined;
  };
  for (const s of schedule) step(s.process % options.processes, s.roll);
  for (const phase of outstanding) {
    if (!phase) continue;
    if (!phase.applied) apply(store, phase);
    completeOk(phase);
  }
  return { history, finalValues: store };
}

function pickOp(roll: number, keys: readonly string[], nextValue: () => string): Op {
  const key = keys[roll % keys.length]!;
  if (roll < 45) return { type: 'read', key };
  if (roll < 85) return { type: 'write', key, value: nextValue() };
  return { type: 'delete', key };
}

function apply(store: Map<string, Value>, phase: Phase): void {
  const op = phase.op;
  if (op.type === 'read') phase.readValue = store.get(op.key) ?? null;
  else store.set(op.key, op.type === 'write' ? op.value : null);
  phase.applied = true;
}
