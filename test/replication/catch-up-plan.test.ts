/**
 * The catch-up plan and the epoch history, data-driven from testdata/catch-up.txt: which
 * followers stream from their own position, which need a snapshot (too far behind, ahead of
 * the leader, or holding a tail a deposed leader wrote), and which leaders must step down.
 * Pure; no sockets.
 */
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { appendEpoch, endOfEpoch, planCatchUp, type EpochEntry } from '../../cluster/index.ts';
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
          from: num('from'), followerDataEpoch: num('data-epoch'), followerEpoch: num('follower-epoch'),
          leaderEpoch: num('leader-epoch'), history, leaderSeq: num('leader-seq'), retainedFrom: num('retained-from'),
        });
        return plan.kind === 'stream' ? `stream from ${plan.from}` : `${plan.kind} (${plan.reason})`;
      }
      case 'end-of-epoch':
        return String(endOfEpoch(history, num('epoch')));
      case 'append':
        try {
          return formatHistory(appendEpoch(history, num('epoch'), num('start')));
        } catch (error) {
          return `error: ${(error as Error).message}`;
        }
      default:
        throw new Error(`line ${c.line}: unknown command ${c.command}`);
    }
  });
});

/** `1@0,3@120`: epoch 1 from seq 0, epoch 3 from seq 120. */
function parseHistory(text: string): EpochEntry[] {
  return text === '' ? [] : text.split(',').map((part) => {
    const [epoch, startSeq] = part.split('@').map(Number);
    return { epoch: epoch!, startSeq: startSeq! };
  });
}

function formatHistory(history: readonly EpochEntry[]): string {
  return history.map((e) => `${e.epoch}@${e.startSeq}`).join(',');
}
