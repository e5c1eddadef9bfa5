/**
 * The history checker on hand-written histories: data-driven from testdata/linearizable.txt
 * and testdata/lost-writes.txt, plus the recorder's own contract. Pure; no sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';
import { checkLinearizable, counterClock, findLostWrites, formatHistory, History, parseHistory, type Value } from './index.ts';

const testdata = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));

describe('the linearizability checker', () => {
  it('gives the verdict written in testdata/linearizable.txt for each history', () => {
    runDataDriven(testdata('linearizable.txt'), (c: Case) => {
      assert.equal(c.command, 'check', `line ${c.line}: unknown command ${c.command}`);
      const initial = c.named.get('initial');
      const steps = c.named.get('steps');
      const result = checkLinearizable(parseHistory(c.input).events, {
        initial: initial === undefined || initial === 'nil' ? null : initial,
        ...(steps === undefined ? {} : { stepsMax: Number(steps) }),
      });
      return result.verdict === 'linearizable' ? result.verdict : `${result.verdict}\n${result.explanation}`;
    });
  });

  it('answers ok only for a linearizable history, never for an unknown one', () => {
    const h = parseHistory(['p1 invoke write x a', 'p2 invoke write x b', 'p3 invoke read x', 'p3 ok b', 'p3 invoke read x', 'p3 ok a', 'p1 ok', 'p2 ok']);
    assert.equal(checkLinearizable(h.events).ok, true);
    const bounded = checkLinearizable(h.events, { stepsMax: 2 });
    assert.equal(bounded.verdict, 'unknown');
    assert.equal(bounded.ok, false);
  });

  it('takes a map of initial values by key', () => {
    const h = parseHistory(['p1 invoke read x', 'p1 ok 1', 'p1 invoke read y', 'p1 ok nil']);
    assert.equal(checkLinearizable(h.events, { initial: new Map<string, Value>([['x', '1']]) }).ok, true);
    assert.equal(checkLinearizable(h.events).ok, false);
  });

  it('checks a long sequential history in one pass per operation', () => {
    const h = new History({ clock: counterClock() });
    for (let i = 0; i < 5000; i++) {
      const w = h.invoke(i % 3, { type: 'write', key: `k${i % 7}`, value: `v${i}` });
      h.ok(w);
      const r = h.invoke(i % 3, { type: 'read', key: `k${i % 7}` });
      h.ok(r, `v${i}`);
    }
    const result = checkLinearizable(h.events);
    assert.ok(result.ok, result.explanation);
    assert.equal(result.operations, 10_000);
    assert.ok(result.steps <= 10_000, `steps ${result.steps}`);
  });
});

describe('the lost-write checker', () => {
  it('reports the lost writes written in testdata/lost-writes.txt for each history', () => {
    runDataDriven(testdata('lost-writes.txt'), (c: Case) => {
      assert.equal(c.command, 'lost', `line ${c.line}: unknown command ${c.command}`);
      const finals: Record<string, Value> = {};
      for (const [key, value] of c.named) finals[key] = value === 'nil' ? null : value;
      const lost = findLostWrites(parseHistory(c.input).events, finals);
      return lost.length === 0 ? 'none' : lost.map((l) => l.explanation).join('\n');
    });
  });

  it('takes the final values as a Map too', () => {
    const h = parseHistory(['p1 invoke write x a', 'p1 ok']);
    assert.deepEqual(findLostWrites(h.events, new Map([['x', 'a']])), []);
    const [lost] = findLostWrites(h.events, new Map([['x', 'b']]));
    assert.deepEqual({ id: lost!.id, key: lost!.key, value: lost!.value, final: lost!.final, process: lost!.process }, { id: 0, key: 'x', value: 'a', final: 'b', process: 'p1' });
  });
});

describe('a History', () => {
  it('records invoke and completion events in order with the read value', () => {
    const h = new History({ clock: counterClock() });
    const w = h.invoke(1, { type: 'write', key: 'k', value: 'v' });
    const r = h.invoke(2, { type: 'read', key: 'k' });
    h.ok(r, 'v');
    h.info(w, 'timeout');
    assert.deepEqual(h.events, [
      { kind: 'invoke', id: 0, process: 1, op: { type: 'write', key: 'k', value: 'v' }, time: 0 },
      { kind: 'invoke', id: 1, process: 2, op: { type: 'read', key: 'k' }, time: 1 },
      { kind: 'ok', id: 1, process: 2, op: { type: 'read', key: 'k' }, value: 'v', time: 2 },
      { kind: 'info', id: 0, process: 1, op: { type: 'write', key: 'k', value: 'v' }, error: 'timeout', time: 3 },
    ]);
    assert.equal(formatHistory(h.events), 'p1 invoke write k v\np2 invoke read k\np2 ok v\np1 info timeout');
  });

  it('refuses a second completion, a read without a value and a write with one', () => {
    const h = new History();
    const r = h.invoke('a', { type: 'read', key: 'k' });
    assert.throws(() => h.ok(r), /completes ok with a value/);
    h.ok(r, null);
    assert.throws(() => h.fail(r), /already complete/);
    const w = h.invoke('a', { type: 'write', key: 'k', value: 'v' });
    assert.throws(() => h.ok(w, 'v'), /without a value/);
    assert.deepEqual(h.pendingIds(), [w]);
  });

  it('refuses a clock that goes backwards', () => {
    let t = 10;
    const h = new History({ clock: () => t-- });
    h.invoke(1, { type: 'read', key: 'k' });
    assert.throws(() => h.invoke(1, { type: 'read', key: 'k' }), /clock went backwards/);
  });

  it('uses performance.now by default', () => {
    const before = performance.now();
    const h = new History();
    h.invoke(1, { type: 'delete', key: 'k' });
    assert.ok(h.events[0]!.time >= before);
  });
});
