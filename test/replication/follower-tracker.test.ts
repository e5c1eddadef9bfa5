/**
 * The leader's follower tracker and its retention log, data-driven from testdata/tracker.txt:
 * lag in sequence numbers and milliseconds, and who keeps up (a reconnect within the grace
 * included), as commits, stream opens and closes, position reports and time go by. Which
 * followers count for acks=all is the leader machine's (testdata/leader.txt).
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
        tracker = new FollowerTracker(num('lag-max'), num('grace', 0), num('start', 0));
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
        tracker!.disconnect(node, c.named.has('stream') ? num('stream') : streams.get(node)!, num('at', 0));
        return 'ok';
      case 'report':
        return tracker!.report(node, num('applied'), num('at')) ? 'ok' : 'ignored: no open stream';
      case 'status':
        return tracker!.status(num('at'), log!, new Set()).map((f) =>
          `${f.node}: ${f.connected ? 'connected' : 'disconnected'} applied=${f.applied} lag=${f.lagSeq} seqs/${f.lagMs}ms ${f.keepingUp ? 'keeping up' : 'not keeping up'}`).join('\n') || 'no followers';
      case 'keeps-up':
        return tracker!.keepsUp(node, num('at'), log!) ? 'yes' : 'no';
      default:
        throw new Error(`line ${c.line}: unknown command ${c.command}`);
    }
  });
});
