/**
 * The leader's follower tracker and its retention log, data-driven from testdata/tracker.txt:
 * lag in sequence numbers and milliseconds, who is in sync, and when an acks=all write may
 * be acknowledged, as commits, stream opens and closes, position reports and time go by.
 * Pure; the clock is the `at=` of each command.
 */
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { FollowerTracker, RetentionLog } from '../../cluster/index.ts';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';

it('tracks followers as written in testdata/tracker.txt', () => {
  let tracker: FollowerTracker | undefined;
  let log: RetentionLog | undefined;
  let streamId = 0;
  const streams = new Map<string, number>();
  runDataDriven(fileURLToPath(new URL('./testdata/tracker.txt', import.meta.url)), (c: Case) => {
    const num = (name: string, fallback?: number) => {
      const text = c.named.get(name);
      if (text === undefined && fallback === undefined) throw new Error(`line ${c.line}: ${name}= is required`);
      return text === undefined ? fallback! : Number(text);
    };
    const node = c.args[0] ?? '';
    switch (c.command) {
      case 'new':
        tracker = new FollowerTracker(num('lag-max'), num('min-insync'));
        log = new RetentionLog(num('last', 0), num('retention-bytes', 1 << 20), num('retention-batches', 1000));
        return `log ends at ${log.lastSeq}`;
      case 'commit': {
        const first = log!.lastSeq + 1;
        const last = first + num('ops', 1) - 1;
        log!.append(first, last, new Uint8Array(num('bytes', 16)), num('at'));
        return `batch ${first}..${last}; retained from ${log!.servableFrom}, ${log!.size} batches, ${log!.bytes} bytes`;
      }
      case 'connect':
        streams.set(node, ++streamId);
        tracker!.connect(node, streamId, num('applied'), num('at'));
        return `stream ${streamId} open for ${node}`;
      case 'disconnect':
        tracker!.disconnect(node, c.named.has('stream') ? num('stream') : streams.get(node)!);
        return 'ok';
      case 'report':
        return tracker!.report(node, num('applied'), num('at')) ? 'ok' : 'ignored: no open stream';
      case 'status':
        return tracker!.status(num('at'), log!).map((f) =>
          `${f.node}: ${f.connected ? 'connected' : 'disconnected'} applied=${f.applied} lag=${f.lagSeq} seqs/${f.lagMs}ms ${f.inSync ? 'in-sync' : 'out-of-sync'}`).join('\n') || 'no followers';
      case 'decide':
        return tracker!.decide(num('seq'), num('at'), log!);
      default:
        throw new Error(`line ${c.line}: unknown command ${c.command}`);
    }
  });
});
