/**
 * Lost acknowledged writes: the check Jepsen made famous. After a test, every key is read
 * once more (when nothing else is running); a write the store acknowledged must then either
 * be what the key holds, or have been overwritten by another mutation of the same key that
 * may have taken effect after it.
 *
 * "May have taken effect after it": another write or delete of the key that is `info` (its
 * effect may land at any time after its invoke, even after the client gave up), or `ok` and
 * not completed before the acknowledged write was invoked. Such an operation can be ordered after the write, so the write's value may have
 * been legitimately replaced. This is deliberately generous, so a report is always a real
 * loss; the linearizability checker is the strict one.
 *
 * Values are compared as strings, so give every write a unique value (e.g. `p3-17`): with
 * repeated values a lost write can hide behind an equal one.
 *
 * Pure and synchronous.
 */
import { describeOperation, operationsOf, showValue, type HistoryEvent, type Operation, type ProcessId, type Value } from './history.ts';

/** Final values by key: a Map or a plain object. A key that is missing is absent (`null`), as a scan would say. */
export type FinalValues = ReadonlyMap<string, Value> | Readonly<Record<string, Value>>;

export interface LostWrite {
  /** The acknowledged write's operation id. */
  id: number;
  process: ProcessId;
  key: string;
  value: string;
  /** What the final read found. */
  final: Value;
  /** For people: the write and what the key holds instead. */
  explanation: string;
}

/**
 * Every write acknowledged `ok` that is neither the key's final value nor overwritten by a
 * later mutation that may have taken effect.
 *
 * @example
 * ```ts
 * const h = new History();
 * const a = h.invoke(1, { type: 'write', key: 'k', value: 'a' });
 * h.ok(a);
 * const b = h.invoke(2, { type: 'write', key: 'k', value: 'b' });
 * h.ok(b);
 * findLostWrites(h.events, { k: 'b' });   // []: 'a' was overwritten by 'b'
 * findLostWrites(h.events, { k: 'a' });   // [{ id: b, key: 'k', value: 'b', final: 'a', … }]
 * findLostWrites(h.events, {});           // [{ id: b, …, final: null }]: the key is gone
 * ```
 */
export function findLostWrites(events: readonly HistoryEvent[], finalValues: FinalValues): LostWrite[] {
  const final = (key: string): Value => {
    const value = finalValues instanceof Map ? finalValues.get(key) : (finalValues as Record<string, Value>)[key];
    return value ?? null;
  };
  const byKey = new Map<string, Operation[]>();
  for (const o of operationsOf(events)) {
    if (o.op.type === 'read' || o.outcome === 'fail') continue;
    const list = byKey.get(o.op.key) ?? [];
    list.push(o);
    byKey.set(o.op.key, list);
  }
  const lost: LostWrite[] = [];
  for (const [key, mutations] of byKey) {
    const now = final(key);
    for (const w of mutations) {
      if (w.op.type !== 'write' || w.outcome !== 'ok' || w.op.value === now) continue;
      // Could another mutation of the key have taken effect after w? Only if it had not completed before w
      // began; an info one may take effect at any time after its invoke, even after its info event.
      const overwriter = mutations.find((m) => m !== w && (m.outcome === 'info' || m.completeIndex > w.invokeIndex));
      if (overwriter) continue;
      lost.push({
        id: w.id,
        process: w.process,
        key,
        value: w.op.value,
        final: now,
        explanation: `${describeOperation(w)} was acknowledged, but the final read found ${showValue(now)} and no other write or delete of the key could have come after it`,
      });
    }
  }
  return lost;
}
