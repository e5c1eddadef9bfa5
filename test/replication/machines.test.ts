/**
 * The replication machines (cluster/replication/leader-machine.ts, follower-machine.ts) driven
 * by scripts, without sockets, timers or an engine: each command is one event, and its output
 * is the Ready it produced. Command references head testdata/leader.txt and follower.txt.
 * Regenerate with: REWRITE=1 node --import tsx --test test/replication/machines.test.ts
 */
import { describe, it } from 'node:test';
import type { Frame } from '../../protocol/frame-format.ts';
import { FollowerMachine, type FollowerReady, type Work } from '../../cluster/replication/follower-machine.ts';
import { LeaderMachine, type LeaderReady } from '../../cluster/replication/leader-machine.ts';
import type { TermEntry } from '../../cluster/replication/term-history.ts';
import type { Refusal } from '../../cluster/replication/machine-types.ts';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';

const list = (text: string | undefined): string[] => (text ? text.split(',') : []);
const num = (c: Case, name: string, fallback?: number): number => {
  const text = c.named.get(name);
  if (text === undefined) {
    if (fallback === undefined) throw new Error(`line ${c.line}: ${c.command} needs ${name}=`);
    return fallback;
  }
  return Number(text);
};
const at = (c: Case) => num(c, 'at', 0);

function history(text: string | undefined): TermEntry[] {
  if (!text) return [];
  return text.split(',').map((part) => {
    const [term, startSeq] = part.split('@').map(Number);
    return { term: term!, startSeq: startSeq! };
  });
}

/** A batch in the WAL encoding's shape: seq:u64le count:u32le, then filler bytes. */
function batchBytes(first: number, last: number, bytes = 16): Uint8Array {
  const out = new Uint8Array(Math.max(12, bytes));
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(first), true);
  view.setUint32(8, last - first + 1, true);
  return out;
}

function frameText(frame: Frame): string {
  switch (frame.type) {
    case 'hello':
      return `hello term=${frame.term} plan=${frame.plan} from=${frame.from} leader-seq=${frame.leaderSeq} history=${frame.history.map((h) => `${h.term}@${h.startSeq}`).join(',') || '-'}`;
    case 'batch':
      return `batch ${frame.first}..${frame.last} term=${frame.term}`;
    case 'heartbeat':
      return `heartbeat term=${frame.term} leader-seq=${frame.leaderSeq}${frame.reportIntervalMs === undefined ? '' : ` report-interval=${frame.reportIntervalMs}`}`;
    case 'snapshot-begin':
      return `snapshot-begin term=${frame.term} seq=${frame.seq}`;
    case 'snapshot-chunk':
      return `snapshot-chunk term=${frame.term} entries=${frame.entries.length / 2}`;
    case 'snapshot-end':
      return `snapshot-end term=${frame.term} seq=${frame.seq} count=${frame.count}`;
    case 'checkpoint':
      return `checkpoint term=${frame.term} seq=${frame.seq}`;
    case 'moved':
      return `moved term=${frame.term} through=${frame.through} ops=${frame.ops.length}`;
    case 'fenced':
      return `fenced term=${frame.term} seq=${frame.seq}`;
  }
}

const refusalText = (r: Refusal | undefined) => (r ? [`refused ${r.code}: ${r.message}`] : []);
const logText = (logs: { level: string; message: string }[]) => logs.filter((l) => l.level !== 'debug').map((l) => `log ${l.level}: ${l.message}`);

function leaderReadyText(ready: LeaderReady): string[] {
  return [
    ...ready.frames.map((f) => `s${f.stream} ${frameText(f.frame)}`),
    ...ready.snapshots.map((s) => `take snapshot for s${s.stream} (${s.node})`),
    ...ready.closes.map((s) => `close s${s}`),
    ...ready.settled.map((s) => `settle w${s.id} ${s.refusal ? `${s.refusal.code}: ${s.refusal.message}` : 'ack'}`),
    ...(ready.proposeInSync ? [`propose in-sync ${['L', ...ready.proposeInSync].join(',')}`] : []),
    ...(ready.refreshMetadata ? ['refresh metadata'] : []),
    ...logText(ready.logs),
  ];
}

function runLeader(path: string): void {
  let machine: LeaderMachine | undefined;
  runDataDriven(path, (c) => {
    if (c.command === 'new') {
      machine = new LeaderMachine({
        address: 'L', minInsync: num(c, 'min-insync', 1), replicaLagMaxMs: num(c, 'lag-max', 100), ackTimeoutMs: num(c, 'ack-timeout', 1000),
        heartbeatIntervalMs: num(c, 'heartbeat', 50), retentionBytesMax: num(c, 'retention-bytes', 1 << 20), retentionBatchesMax: num(c, 'retention-batches', 1000),
        waitersMax: num(c, 'waiters', 100), queuedBytesMax: num(c, 'queued-bytes', 1 << 20),
      }, {
        nowMs: num(c, 'at', 0), lastSeq: num(c, 'last', 0), term: num(c, 'term', 1), history: history(c.named.get('history') ?? '1@0'),
        followers: list(c.named.get('followers') ?? 'a,b,c'), inSync: list(c.named.get('in-sync') ?? ''),
      });
      if (c.named.has('lease')) machine.step({ type: 'lease', untilMs: num(c, 'lease') }, 0);
      return `log ends at ${machine.retention.lastSeq}`;
    }
    const m = machine!;
    let refusal: Refusal | undefined;
    const stream = num(c, 'stream', 0);
    switch (c.command) {
      case 'commit': {
        const first = m.retention.lastSeq + 1;
        const last = first + num(c, 'ops', 1) - 1;
        refusal = m.step({ type: 'commit', first, last, batch: batchBytes(first, last, num(c, 'bytes', 16)) }, at(c));
        break;
      }
      case 'open':
        refusal = m.step({ type: 'open', stream, node: c.named.get('node')!, from: num(c, 'from'), term: num(c, 'term', 1), dataTerm: num(c, 'data-term', 1) }, at(c));
        break;
      case 'snapshot-taken':
        refusal = m.step({ type: 'snapshot-taken', stream, seq: num(c, 'seq') }, at(c));
        break;
      case 'snapshot-sent':
        refusal = m.step({ type: 'snapshot-sent', stream, seq: num(c, 'seq'), count: num(c, 'count') }, at(c));
        break;
      case 'blocked':
      case 'drained':
      case 'closed':
        refusal = m.step({ type: c.command, stream }, at(c));
        break;
      case 'report': {
        const checkpoint = c.named.get('checkpoint');
        refusal = m.step({ type: 'report', node: c.named.get('node')!, term: num(c, 'term', 1), applied: num(c, 'applied'), checkpoint: checkpoint === undefined ? undefined : Number(checkpoint) }, at(c));
        break;
      }
      case 'wait':
        refusal = m.step({ type: 'wait', id: num(c, 'id'), seq: num(c, 'seq') }, at(c));
        break;
      case 'check-write':
        refusal = m.checkWrite(c.args.includes('all'), at(c));
        if (!refusal) return 'ok';
        break;
      case 'read':
        refusal = m.step({ type: 'read', id: num(c, 'id'), seq: num(c, 'seq') }, at(c));
        break;
      case 'members':
        refusal = m.step({ type: 'members', followers: list(c.named.get('followers') ?? 'a,b,c'), inSync: list(c.named.get('in-sync')) }, at(c));
        break;
      case 'in-sync-failed':
        refusal = m.step({ type: 'in-sync-failed', reason: 'refused' }, at(c));
        break;
      case 'lease':
        refusal = m.step({ type: 'lease', untilMs: num(c, 'until') }, at(c));
        break;
      case 'fence':
      case 'giving':
        refusal = m.step({ type: c.command, on: !c.args.includes('off') }, at(c));
        break;
      case 'checkpoints':
        refusal = m.step({ type: 'checkpoints', seq: num(c, 'seq') }, at(c));
        break;
      case 'tick':
      case 'stop':
        refusal = m.step({ type: c.command }, at(c));
        break;
      case 'status':
        return m.followers(at(c)).map((f) => `${f.node}: ${f.connected ? 'connected' : 'disconnected'} applied=${f.applied} lag=${f.lagSeq} ${f.keepingUp ? 'keeping up' : 'not keeping up'}${f.inSync ? ', in sync' : ''}`)
          .concat(`in-sync set ${['L', ...m.inSyncFollowers()].join(',')}; high watermark ${m.highWatermark()}; waiting=${m.waitingWrites}; retained from ${m.retention.servableFrom}; lease ${m.leaseValid(at(c)) ? 'valid' : 'not valid'}`).join('\n');
      default:
        throw new Error(`line ${c.line}: unknown command ${c.command}`);
    }
    const lines = [...refusalText(refusal), ...leaderReadyText(m.ready())];
    m.advance();
    return lines.length > 0 ? lines.join('\n') : 'ok';
  });
}

function parseFrame(line: string, defaultTerm: number): Frame {
  const [type, ...words] = line.trim().split(/\s+/);
  const named = new Map(words.filter((w) => w.includes('=')).map((w) => w.split('=') as [string, string]));
  const n = (name: string, fallback?: number) => Number(named.get(name) ?? fallback);
  const term = n('term', defaultTerm);
  switch (type) {
    case 'hello':
      return { type, term, leader: 'L', plan: named.get('plan') as 'stream' | 'snapshot', from: n('from', 0), leaderSeq: n('leader-seq', 0), history: history(named.get('history') ?? `${term}@0`) };
    case 'batch': {
      const [first, last] = words[0]!.split('..').map(Number);
      return { type, term, first: first!, last: last!, batch: batchBytes(first!, last!) };
    }
    case 'heartbeat': {
      const interval = named.get('report-interval');
      return { type, term, leaderSeq: n('leader-seq'), ...(interval !== undefined && { reportIntervalMs: Number(interval) }) };
    }
    case 'snapshot-begin':
    case 'checkpoint':
      return { type, term, seq: n('seq') };
    case 'snapshot-chunk':
      return { type, term, entries: Array.from({ length: 2 * n('n', 1) }, () => new Uint8Array(1)) };
    case 'snapshot-end':
      return { type, term, seq: n('seq'), count: n('count') };
    default:
      throw new Error(`unknown frame ${line}`);
  }
}

function workText(w: Work): string {
  switch (w.kind) {
    case 'persist':
      return `work ${w.id}: persist ${JSON.stringify({ ...w.change, ...(w.change.history && { history: w.change.history.map((h) => `${h.term}@${h.startSeq}`).join(',') }) })}`;
    case 'apply':
      return `work ${w.id}: apply ${w.batches.map((b) => `${b.first}..${b.last}`).join(' ')}${w.sync ? ' (sync last)' : ''}`;
    case 'write-snapshot':
      return `work ${w.id}: write-snapshot ${w.entries.length / 2} entries`;
    case 'advance':
    case 'checkpoint':
      return `work ${w.id}: ${w.kind} ${w.seq}`;
    case 'wipe':
      return `work ${w.id}: wipe`;
  }
}

function followerReadyText(ready: FollowerReady): string[] {
  return [
    ...(ready.connect ? [`connect ${ready.connect.leader} from=${ready.connect.from} term=${ready.connect.term} data-term=${ready.connect.dataTerm}`] : []),
    ...(ready.disconnect ? ['disconnect'] : []),
    ...ready.work.map(workText),
    ...(ready.report ? [`report to ${ready.report.leader}: applied=${ready.report.body.applied} term=${ready.report.body.term} checkpoint=${ready.report.body.checkpoint ?? '-'}`] : []),
    ...ready.settled.map((s) => `settle w${s.id} ${s.ok ? 'applied' : 'not applied'}`),
    ...(ready.releaseCheckpoint ? ['release checkpoint'] : []),
    ...(ready.readable === undefined ? [] : [`readable ${ready.readable}`]),
    ...(ready.refreshMetadata ? ['refresh metadata'] : []),
    ...logText(ready.logs),
  ];
}

function runFollower(path: string): void {
  let machine: FollowerMachine | undefined;
  let pending: Work[] = [];
  let term = 1;
  runDataDriven(path, (c) => {
    if (c.command === 'new') {
      term = num(c, 'term', 1);
      machine = new FollowerMachine({
        address: 'F', heartbeatIntervalMs: num(c, 'heartbeat', 50), retentionBytesMax: 1 << 20, retentionBatchesMax: 1000,
        followerSync: c.args.includes('sync'), batchesPerRunMax: num(c, 'run-max', 256), checkpointKeepMs: num(c, 'checkpoint-keep', 1000), retryDelayMaxMs: 1000,
      }, { applied: num(c, 'applied', 0), dataTerm: num(c, 'data-term', 1), history: history(c.named.get('history') ?? '1@0'), leader: c.named.get('leader') ?? 'L', term });
      pending = [...machine.ready().work];
      const lines = followerReadyText(machine.ready());
      machine.advance();
      return lines.length > 0 ? lines.join('\n') : 'ok';
    }
    const m = machine!;
    const now = at(c);
    const step = (event: Parameters<FollowerMachine['step']>[0]) => m.step(event, now);
    switch (c.command) {
      case 'tick':
      case 'connected':
      case 'stop':
        step({ type: c.command });
        break;
      case 'refused':
        step({ type: 'refused', status: num(c, 'status'), term: c.named.has('term') ? num(c, 'term') : undefined, code: c.named.get('code'), message: undefined });
        break;
      case 'disconnected':
        step({ type: 'disconnected', error: c.named.get('error'), corrupt: c.args.includes('corrupt') });
        break;
      case 'frames':
        step({ type: 'frames', frames: c.input.map((line) => parseFrame(line, term)) });
        break;
      case 'done': {
        const count = c.args.includes('all') ? Infinity : num(c, 'n', 1);
        const lines: string[] = [];
        for (let i = 0; i < count && pending.length > 0; i++) {
          step({ type: 'done', work: pending.shift()!.id });
          pending.push(...m.ready().work);
          lines.push(...followerReadyText(m.ready()));
          m.advance();
        }
        return lines.length > 0 ? lines.join('\n') : 'ok';
      }
      case 'failed':
        step({ type: 'failed', work: pending[0]!.id, error: c.named.get('error') ?? 'io' });
        pending = [];
        break;
      case 'report-answered':
        step({ type: 'report-answered', status: 204, term: c.named.has('term') ? num(c, 'term') : undefined });
        break;
      case 'report-failed':
        step({ type: 'report-failed', error: 'refused' });
        break;
      case 'wait':
        step({ type: 'wait', id: num(c, 'id'), seq: num(c, 'seq'), deadlineMs: num(c, 'deadline') });
        break;
      case 'leader':
        term = num(c, 'term', term);
        step({ type: 'leader', leader: c.args[0]!, term });
        break;
      case 'status':
        return JSON.stringify(m.status());
      default:
        throw new Error(`line ${c.line}: unknown command ${c.command}`);
    }
    pending.push(...m.ready().work);
    const lines = followerReadyText(m.ready());
    m.advance();
    return lines.length > 0 ? lines.join('\n') : 'ok';
  });
}

describe('replication machines', () => {
  it('the leader machine plays testdata/leader.txt', () => runLeader('test/replication/testdata/leader.txt'));
  it('the follower machine plays testdata/follower.txt', () => runFollower('test/replication/testdata/follower.txt'));
});
