/**
 * A small text form of histories, for hand-written cases (testdata/*.txt) and for printing
 * generated ones when a randomized test fails. One event a line, in real-time order:
 *
 *   p1 invoke write x a     process p1 sends "write x = a"
 *   p2 invoke read x
 *   p3 invoke delete x
 *   p1 ok                   p1's outstanding operation took effect
 *   p2 ok a                 a read's ok carries the value read; `nil` is "absent"
 *   p3 fail                 certainly did not happen
 *   p3 info timeout         unknown outcome (the rest of the line is the reason)
 *
 * A process has at most one outstanding operation, so a completion names only the process.
 * Values are single words; `nil` is reserved. Timestamps count events from 0.
 */
import assert from 'node:assert/strict';
import { counterClock, History, type HistoryEvent, type Op, type Value } from './history.ts';

const NIL = 'nil';

/**
 * Parses the text form into a History.
 *
 * @example
 * ```ts
 * const h = parseHistory(['p1 invoke write x a', 'p1 ok', 'p2 invoke read x', 'p2 ok a']);
 * checkLinearizable(h.events).ok;   // true
 * ```
 */
export function parseHistory(lines: readonly string[]): History {
  const history = new History({ clock: counterClock() });
  const outstanding = new Map<string, number>();
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const [process, kind, ...rest] = line.split(/\s+/);
    const where = `history line ${i + 1} ${JSON.stringify(raw)}`;
    assert.ok(process && kind, `${where}: expected "PROCESS EVENT …"`);
    if (kind === 'invoke') {
      assert.ok(!outstanding.has(process), `${where}: ${process} already has an outstanding operation`);
      outstanding.set(process, history.invoke(process, parseOp(rest, where)));
      return;
    }
    const id = outstanding.get(process);
    assert.ok(id !== undefined, `${where}: ${process} has no outstanding operation`);
    outstanding.delete(process);
    if (kind === 'ok') {
      const isRead = history.events.find((e) => e.id === id)!.op.type === 'read';
      if (isRead) assert.equal(rest.length, 1, `${where}: a read's ok needs the value read (or nil)`);
      history.ok(id, isRead ? parseValue(rest[0]!) : undefined);
    } else if (kind === 'fail') history.fail(id, rest.join(' ') || undefined);
    else if (kind === 'info') history.info(id, rest.join(' ') || undefined);
    else assert.fail(`${where}: unknown event ${JSON.stringify(kind)}; expected invoke, ok, fail or info`);
  });
  return history;
}

function parseOp(words: string[], where: string): Op {
  const [type, key, value] = words;
  assert.ok(key, `${where}: an operation needs a key`);
  if (type === 'read') return { type, key };
  if (type === 'delete') return { type, key };
  if (type === 'write') {
    assert.ok(value !== undefined && value !== NIL, `${where}: a write needs a value other than nil`);
    return { type, key, value };
  }
  return assert.fail(`${where}: unknown operation ${JSON.stringify(type)}; expected read, write or delete`);
}

function parseValue(word: string): Value {
  return word === NIL ? null : word;
}

/** The text form of events, one a line; the inverse of parseHistory for histories it can express. */
export function formatHistory(events: readonly HistoryEvent[]): string {
  return events
    .map((e) => {
      const p = typeof e.process === 'number' ? `p${e.process}` : String(e.process);
      if (e.kind === 'invoke') {
        const op = e.op;
        return `${p} invoke ${op.type} ${op.key}${op.type === 'write' ? ` ${op.value}` : ''}`;
      }
      if (e.kind === 'ok') return e.op.type === 'read' ? `${p} ok ${e.value ?? NIL}` : `${p} ok`;
      return `${p} ${e.kind}${e.error ? ` ${e.error}` : ''}`;
    })
    .join('\n');
}
