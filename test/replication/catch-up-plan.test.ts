/**
 * The catch-up plan and the term history, data-driven from testdata/catch-up.txt: which
 * followers stream from their own position, which need a snapshot (too far behind, ahead of
 * the leader, or holding a tail a deposed leader wrote), and which leaders must step down.
 * Pure; no sockets.
 */
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { appendTerm, endOfTerm, planCatchUp, type TermEntry } from '../../cluster/index.ts';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';

it('plans every catch-up in testdata/catch-up.txt as written there', () => {
  runDataDriven(fileURLToPath(new URL('./testdata/catch-up.txt', import.meta.url)), (c: Case) => {
    const history = parseHistory(c.named.get('history') ?? '');
    const num = (name: string) => {
      const text = c.named.get(name);
      if (text === undefined) throw new Error(`line ${c.line}: ${name}= is required`);
      return Number(text);
    };
    switch (c.command) {
      case 'plan': {
        const plan = planCatchUp({
          from: num('from'), followerDataTerm: num('data-term'), followerTerm: num('follower-term'),
          leaderTerm: num('leader-term'), history, leaderSeq: num('leader-seq'), retainedFrom: num('retained-from'),
        });
        return plan.kind === 'stream' ? `stream from ${plan.from}` : `${plan.kind} (${plan.reason})`;
      }
      case 'end-of-term':
        return String(endOfTerm(history, num('term')));
      case 'append':
        try {
          return formatHistory(appendTerm(history, num('term'), num('start')));
        } catch (error) {
          return `error: ${(error as Error).message}`;
        }
      default:
        throw new Error(`line ${c.line}: unknown command ${c.command}`);
    }
  });
});

/** `1@0,3@120`: term 1 from seq 0, term 3 from seq 120. */
function parseHistory(text: string): TermEntry[] {
  return text === '' ? [] : text.split(',').map((part) => {
    const [term, startSeq] = part.split('@').map(Number);
    return { term: term!, startSeq: startSeq! };
  });
}

function formatHistory(history: readonly TermEntry[]): string {
  return history.map((e) => `${e.term}@${e.startSeq}`).join(',');
}
