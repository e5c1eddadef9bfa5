/**
 * The checkers against a simulated store that is linearizable by construction
 * (simulated-register.ts): fast-check generates schedules of overlapping operations,
 * including failed and indeterminate ones. Every such history must pass both checkers;
 * the same history with one read corrupted, or one acknowledged write dropped from the final
 * state, must fail. fast-check prints the seed and the shrunk schedule of any failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkLinearizable, findLostWrites, formatHistory, type HistoryEvent } from './index.ts';
import { operationsOf, type Operation } from './history.ts';
import { simulate, type SimulationOptions } from './simulated-register.ts';

const RUNS = Number(process.env['CHECKER_RUNS'] ?? 200);

// Up to ~120 operations with up to 10 % indeterminate: refuting a corrupted history is an
// exhaustive search, exponential in the overlapping info operations, and these bounds keep
// it under ~30,000 steps (measured over 5000 samples), far from the step bound.
const scheduleArb = fc.array(fc.record({ process: fc.nat(7), roll: fc.nat(99) }), { minLength: 1, maxLength: 300, size: 'max' });
const optionsArb: fc.Arbitrary<SimulationOptions> = fc.record({
  processes: fc.integer({ min: 1, max: 6 }),
  keys: fc.constantFrom(['x'], ['x', 'y'], ['x', 'y', 'z']),
  failPercent: fc.integer({ min: 0, max: 20 }),
  infoPercent: fc.integer({ min: 0, max: 10 }),
});

describe('the checkers on a simulated linearizable store', () => {
  it('accept every history the simulation produces', () => {
    fc.assert(
      fc.property(scheduleArb, optionsArb, (schedule, options) => {
        const { history, finalValues } = simulate(schedule, options);
        const result = checkLinearizable(history.events);
        assert.ok(result.ok, `${result.explanation}\n${formatHistory(history.events)}`);
        assert.deepEqual(findLostWrites(history.events, finalValues), []);
      }),
      { numRuns: RUNS },
    );
  });

  it('reject the history once a read returns a value that was never written', () => {
    fc.assert(
      fc.property(scheduleArb, optionsArb, fc.nat(), (schedule, options, pick) => {
        const { history } = simulate(schedule, options);
        const reads = okReads(history.events);
        fc.pre(reads.length > 0);
        const events = withReadValue(history.events, reads[pick % reads.length]!, 'never-written');
        const result = checkLinearizable(events);
        assert.equal(result.verdict, 'not-linearizable', formatHistory(events));
      }),
      { numRuns: RUNS },
    );
  });

  it('reject the history once a read returns a value overwritten before it began', () => {
    fc.assert(
      fc.property(scheduleArb, optionsArb, fc.nat(), (schedule, options, pick) => {
        const { history } = simulate(schedule, { ...options, processes: Math.max(2, options.processes) });
        const stale = staleCandidates(operationsOf(history.events));
        fc.pre(stale.length > 0);
        const { read, value } = stale[pick % stale.length]!;
        const events = withReadValue(history.events, read, value);
        const result = checkLinearizable(events);
        assert.equal(result.verdict, 'not-linearizable', `read ${read} made to return ${value}\n${formatHistory(events)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('find the write that is missing from the final state', () => {
    fc.assert(
      fc.property(scheduleArb, optionsArb, (schedule, options) => {
        const { history, finalValues } = simulate(schedule, options);
        // One more acknowledged write after everything else, which the final state does not show.
        const key = options.keys[0]!;
        const id = history.invoke('late', { type: 'write', key, value: 'late-value' });
        history.ok(id);
        const lost = findLostWrites(history.events, finalValues);
        // Only an indeterminate write or delete of the key could still explain its absence.
        const excused = operationsOf(history.events).some((o) => o.op.key === key && o.op.type !== 'read' && o.outcome === 'info');
        assert.deepEqual(lost.map((l) => l.id), excused ? lost.map((l) => l.id).filter((i) => i === id) : [id]);
        assert.equal(checkLinearizable(history.events).ok, true);
      }),
      { numRuns: RUNS },
    );
  });
});

function okReads(events: readonly HistoryEvent[]): number[] {
  return events.filter((e) => e.kind === 'ok' && e.op.type === 'read').map((e) => e.id);
}

function withReadValue(events: readonly HistoryEvent[], id: number, value: string): HistoryEvent[] {
  return events.map((e) => (e.kind === 'ok' && e.id === id ? { ...e, value } : e));
}

/**
 * Reads that can be made certainly stale: an ok write w1, then an ok write or delete w2 of
 * the same key invoked after w1 completed, then the read invoked after w2 completed. Write
 * values are unique, so the read returning w1's value cannot be explained.
 */
function staleCandidates(ops: readonly Operation[]): { read: number; value: string }[] {
  const acked = ops.filter((o) => o.outcome === 'ok');
  return acked.flatMap((r) => {
    if (r.op.type !== 'read') return [];
    const key = r.op.key;
    for (const w2 of acked) {
      if (w2.op.key !== key || w2.op.type === 'read' || w2.completeIndex > r.invokeIndex) continue;
      const w1 = acked.find((w) => w.op.key === key && w.op.type === 'write' && w.completeIndex < w2.invokeIndex);
      if (w1 && w1.op.type === 'write') return [{ read: r.id, value: w1.op.value }];
    }
    return [];
  });
}
