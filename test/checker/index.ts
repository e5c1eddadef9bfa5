/**
 * The history checker: record what clients did and saw, then check it.
 *
 *   History              the recorder (invoke, then ok / fail / info)
 *   checkLinearizable    per key, is there an order of the operations that a single register
 *                        could have produced and that respects real time?
 *   findLostWrites       which acknowledged writes are missing from the final state?
 *   parseHistory         histories written as text (for hand-written cases)
 *
 * Typical use in a cluster test:
 *
 * ```ts
 * const h = new History();
 * const id = h.invoke(worker, { type: 'write', key, value });
 * try { await client.put(key, value); h.ok(id); }
 * catch (e) { definitelyNotApplied(e) ? h.fail(id, e.code) : h.info(id, e.code); }
 * // … after the workload, read every key once, quietly:
 * assert.deepEqual(findLostWrites(h.events, finalValues), []);
 * const result = checkLinearizable(h.events);
 * assert.ok(result.ok, result.explanation);
 * ```
 *
 * No I/O, no clock but the recorder's (injectable). See docs/reliability.md.
 */
export { counterClock, History, type EventKind, type HistoryEvent, type HistoryOptions, type Op, type OpType, type ProcessId, type Value } from './history.ts';
export { checkLinearizable, LINEARIZABILITY_STEPS_MAX_DEFAULT, type LinearizabilityOptions, type LinearizabilityResult, type Verdict } from './linearizable.ts';
export { findLostWrites, type FinalValues, type LostWrite } from './lost-writes.ts';
export { formatHistory, parseHistory } from './history-text.ts';
