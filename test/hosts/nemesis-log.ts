/**
 * The nemesis's side of a history: every fault it applied or undid, with a timestamp from the
 * same clock as test/checker's History (performance.now by default), so a checker failure can
 * be read against what the network and the processes were doing at that moment
 * (`formatTimeline`). History holds client operations only; this log sits beside it.
 */
import type { HistoryEvent } from '../checker/index.ts';

export type NemesisKind =
  | 'isolate' | 'split' | 'bridge' | 'one-way' | 'heal'
  | 'link-down' | 'link-up'
  | 'kill' | 'restart'
  | 'pause' | 'resume'
  | 'slow' | 'lossy' | 'unshape';

export interface NemesisEvent {
  time: number;
  kind: NemesisKind;
  /** What exactly: hosts, cuts, figures. */
  detail: string;
}

export class NemesisLog {
  readonly events: NemesisEvent[] = [];
  private readonly clock: () => number;

  constructor(clock: () => number = () => performance.now()) {
    this.clock = clock;
  }

  record(kind: NemesisKind, detail: string): NemesisEvent {
    const event = { time: this.clock(), kind, detail };
    this.events.push(event);
    return event;
  }

  /** How many events of each kind, in the order kinds first occurred. */
  counts(): Map<NemesisKind, number> {
    const out = new Map<NemesisKind, number>();
    for (const e of this.events) out.set(e.kind, (out.get(e.kind) ?? 0) + 1);
    return out;
  }

  /** `isolate 1, heal 3, kill 2` (or `none`). */
  countsText(): string {
    const parts = [...this.counts()].map(([kind, n]) => `${kind} ${n}`);
    return parts.length === 0 ? 'none' : parts.join(', ');
  }
}

/**
 * History and nemesis events merged in time order, one line each, limited to the window
 * [from, to] when given and to `linesMax` lines: the context for a checker's explanation.
 */
export function formatTimeline(history: readonly HistoryEvent[], nemesis: readonly NemesisEvent[], window: { from?: number; to?: number } = {}, linesMax = 200): string {
  const from = window.from ?? -Infinity;
  const to = window.to ?? Infinity;
  const lines: { time: number; text: string }[] = [];
  for (const e of history) {
    if (e.time < from || e.time > to) continue;
    const what = e.op.type === 'write' ? `write ${e.op.key} = ${e.op.value}` : `${e.op.type} ${e.op.key}`;
    const extra = e.kind === 'ok' && e.op.type === 'read' ? ` -> ${e.value ?? 'absent'}` : e.error ? ` (${e.error})` : '';
    lines.push({ time: e.time, text: `p${e.process} ${e.kind} op ${e.id}: ${what}${extra}` });
  }
  for (const e of nemesis) {
    if (e.time >= from && e.time <= to) lines.push({ time: e.time, text: `NEMESIS ${e.kind}: ${e.detail}` });
  }
  lines.sort((a, b) => a.time - b.time);
  const shown = lines.length > linesMax ? [...lines.slice(0, linesMax / 2), { time: NaN, text: `… ${lines.length - linesMax} lines left out …` }, ...lines.slice(-linesMax / 2)] : lines;
  return shown.map((l) => (Number.isNaN(l.time) ? l.text : `${l.time.toFixed(1).padStart(10)} ms  ${l.text}`)).join('\n');
}
