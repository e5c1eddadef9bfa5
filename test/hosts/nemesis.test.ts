/**
 * The cluster across hosts, under the nemesis, with automatic failover: one shard on h0, h1
 * and h2 (h0 leads first), each node in its own network namespace behind its host's relay,
 * bound to its host's address with a token (auth = "all"); the control plane on the same three
 * nodes (the config's default). Six clients read and write eight keys (writes acks=all, reads
 * from the leader) while the nemesis runs every fault it has, one phase at a time: partitions
 * (a replica cut off, the leader alone in a minority with the clients on the majority side
 * (stale-leader-clients.test.ts has them on both sides), a majority with the leader, a bridge,
 * one-way cuts both ways), a replica's link down, pauses and kill -9 of a replica and of the
 * leader, a slow replica, a slow leader and lossy links.
 *
 * Roles are read from the committed metadata at the start of each phase: "the leader" is
 * whoever leads now. Each fault is first seen to take effect (the committed in-sync set loses a
 * member, the shard fails over to another leader, the relays count delayed or stalled chunks),
 * so a fault that did nothing fails the test. Each phase then holds its fault until the load
 * has made progress through it (where the leader is cut off, paused or killed: through the new
 * leader), undoes it, and waits for every member to be back in the in-sync set.
 *
 * The paused leader (issue 18): SIGSTOP of the leader until the control plane has elected
 * another and that one has acknowledged writes, then writes sent straight to the paused node
 * (queued by its kernel, so it meets them the moment it wakes), then SIGCONT: none may be
 * acknowledged under its old term (or any term: it no longer leads).
 *
 * Checked at the end, over one history: no acknowledged acks=all write lost, every key's
 * history linearizable, never two nodes acknowledging at one term, every member holds the
 * leader's data, every nemesis kind ran, and the shard failed over at least once per
 * leader-fault phase.
 *
 * Knobs (npm run stress sets them): HOSTS_ROUNDS (times through the phases; rounds after the
 * first go in a seeded random order), HOSTS_PHASE_ACKS (acknowledged writes a phase waits
 * for), HOSTS_SEED.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { HttpTransport, type Client } from '../../net/index.ts';
import { waitFor } from '../replication/nodes.ts';
import { hostsUnavailable } from './capability.ts';
import { HostCluster } from './host-cluster.ts';
import { Nemesis } from './nemesis.ts';
import { CLIENT } from './reachability.ts';
import type { NemesisKind } from './nemesis-log.ts';
import { Workload, type Connect, type DirectAnswer } from './workload.ts';

const skip = await hostsUnavailable();
const ROUNDS = Number(process.env['HOSTS_ROUNDS'] ?? 1);
const PHASE_ACKS = Number(process.env['HOSTS_PHASE_ACKS'] ?? 60);
const SEED = Number(process.env['HOSTS_SEED'] ?? 1);
const WORKERS = 6;
const REQUEST_TIMEOUT_MS = 4000;
const REPLICATION = ['min_insync = 1', 'replica_lag_max_ms = 1000', 'ack_timeout_ms = 3000', 'heartbeat_interval_ms = 100'].join('\n');
/** Writes sent straight to the paused leader, queued while it sleeps. */
const WRITES_TO_PAUSED = 8;
/** Enough for a request queued at a paused node to be answered once it wakes. */
const DIRECT_TIMEOUT_MS = 30_000;

/** Who does what in the shard when a phase begins. */
interface Roles {
  leader: string;
  replicas: [string, string];
  term: number;
}

interface Phase {
  name: string;
  fault(n: Nemesis, r: Roles): Promise<void> | void;
  /** Waits until the fault shows (so a fault that does nothing fails the test, not passes it). */
  shows?: (r: Roles) => Promise<void>;
  /** Runs once the load got through the fault, before it is undone. */
  beforeUndo?: (r: Roles) => Promise<void> | void;
  undo(n: Nemesis, r: Roles): Promise<void> | void;
  /** Runs once the fault is undone. */
  afterUndo?: (r: Roles) => Promise<void>;
  /** What the load must get through while the fault holds. */
  progress: { acknowledged?: number; completed?: number };
  /** The fault cuts off, stops or kills the leader: the shard must fail over. */
  failsOver?: boolean;
}

/** The committed in-sync set lost each of `out` (whoever leads). */
function outOfSync(...out: ((r: Roles) => string)[]): (r: Roles) => Promise<void> {
  return (r) => waitFor(`the committed in-sync set without ${out.map((f) => f(r)).join(' and ')}`, async () => {
    const meta = await cluster!.shardMeta();
    return out.every((f) => !meta.inSync.includes(cluster!.addressOf(f(r))));
  });
}

/** The committed in-sync set lost a member, or the shard failed over: whichever the fault brings. */
function degraded(r: Roles): Promise<void> {
  return waitFor('the shard to drop a member from its in-sync set or fail over', async () => {
    const meta = await cluster!.shardMeta();
    return meta.term > r.term || meta.inSync.length < meta.members.length;
  });
}

/** The control plane elected another leader, at a later term. */
function failedOver(r: Roles): Promise<void> {
  return waitFor(`a leader other than ${r.leader} at a term above ${r.term}`, async () => {
    const meta = await cluster!.shardMeta();
    return meta.term > r.term && meta.leader !== cluster!.addressOf(r.leader);
  });
}

/** The relays have delayed, or stalled, more chunks than when the phase began. */
function relaysMore(field: 'chunksDelayed' | 'chunksStalled'): () => Promise<void> {
  const total = async () => (await Promise.all([...cluster!.relays.values()].map((r) => r.stats()))).reduce((n, s) => n + s[field], 0);
  return async () => {
    const start = await total();
    await waitFor(`the relays' ${field} to grow`, async () => (await total()) > start);
  };
}

const ACKED = { acknowledged: PHASE_ACKS };
const leader = (r: Roles) => r.leader;
const first = (r: Roles) => r.replicas[0];
const second = (r: Roles) => r.replicas[1];

/** SIGSTOP of the leader past its lease; writes queued at it while it sleeps; SIGCONT; none acknowledged under its old term. */
function pausedLeaderPhase(): Phase {
  let queued: Promise<DirectAnswer[]> | undefined;
  return {
    name: 'the leader paused (SIGSTOP) until another is elected, then woken',
    fault: (n, r) => n.pause(r.leader),
    shows: failedOver,
    beforeUndo: (r) => {
      const transport = new HttpTransport({ requestTimeoutMs: DIRECT_TIMEOUT_MS, responseBytesMax: 1 << 20, socketsPerNodeMax: WRITES_TO_PAUSED });
      const address = cluster!.addressOf(r.leader);
      const headers = { Authorization: `Bearer ${cluster!.token}` };
      queued = Promise.all(Array.from({ length: WRITES_TO_PAUSED }, (_, i) => load!.directWrite(transport, address, load!.keys[i % load!.keys.length]!, headers)))
        .finally(() => transport.close());
    },
    undo: (n, r) => n.resume(r.leader),
    afterUndo: async (r) => {
      const answers = await queued!;
      const acknowledged = answers.filter((a) => a.status === 204);
      pausedAnswers.push(...answers.map((a) => `${a.code}${a.term === undefined ? '' : ` at term ${a.term}`}: ${a.message}`));
      assert.deepEqual(acknowledged, [], `the woken old leader ${r.leader} (term ${r.term}) acknowledged writes sent while it slept: ${JSON.stringify(acknowledged)}`);
    },
    progress: ACKED,
    failsOver: true,
  };
}

const PHASES: Phase[] = [
  { name: 'a replica cut off from every other host', fault: (n, r) => n.isolate(second(r)), shows: outOfSync(second), undo: (n) => n.heal(), progress: ACKED },
  { name: 'the leader alone in a minority, the clients with the majority', fault: (n, r) => n.split([r.leader], [...r.replicas, CLIENT]), shows: failedOver, undo: (n) => n.heal(), progress: ACKED, failsOver: true },
  { name: 'a majority with the leader, a replica alone', fault: (n, r) => n.split([r.leader, first(r)], [second(r)]), shows: outOfSync(second), undo: (n) => n.heal(), progress: ACKED },
  { name: 'a bridge: a replica reaches both halves, the leader and the other replica not each other', fault: (n, r) => n.bridge([r.leader], first(r), [second(r)]), shows: degraded, undo: (n) => n.heal(), progress: ACKED },
  { name: 'one way: the leader cannot send to a replica', fault: (n, r) => n.oneWay(r.leader, first(r)), shows: degraded, undo: (n) => n.heal(), progress: ACKED },
  { name: 'one way: a replica cannot send to the leader', fault: (n, r) => n.oneWay(second(r), r.leader), shows: degraded, undo: (n) => n.heal(), progress: ACKED },
  { name: 'a replica\'s link down', fault: (n, r) => n.linkDown(first(r)), shows: outOfSync(first), undo: (n, r) => n.linkUp(first(r)), progress: ACKED },
  { name: 'a replica paused (SIGSTOP)', fault: (n, r) => n.pause(second(r)), shows: outOfSync(second), undo: (n, r) => n.resume(second(r)), progress: ACKED },
  { name: 'a replica killed (kill -9) and restarted', fault: (n, r) => n.kill(first(r)), shows: outOfSync(first), undo: (n, r) => n.restart(first(r)), progress: ACKED },
  pausedLeaderPhase(),
  { name: 'the leader killed (kill -9), a new one elected, the old one restarted', fault: (n, r) => n.kill(r.leader), shows: failedOver, undo: (n, r) => n.restart(r.leader), progress: ACKED, failsOver: true },
  { name: 'a slow replica (+20 ms a chunk)', fault: (n, r) => n.slow(first(r), 20), shows: relaysMore('chunksDelayed'), undo: (n) => n.unshape(), progress: ACKED },
  { name: 'a slow leader (+5 ms a chunk)', fault: (n, r) => n.slow(leader(r), 5), shows: relaysMore('chunksDelayed'), undo: (n) => n.unshape(), progress: ACKED },
  { name: 'a lossy replica (5 % of chunks stall 200 ms)', fault: (n, r) => n.lossy(second(r), 0.05, 200), shows: relaysMore('chunksStalled'), undo: (n) => n.unshape(), progress: ACKED },
];

const EVERY_KIND: NemesisKind[] = ['isolate', 'split', 'bridge', 'one-way', 'heal', 'link-down', 'link-up', 'kill', 'restart', 'pause', 'resume', 'slow', 'lossy', 'unshape'];

let cluster: HostCluster | undefined;
let probe: Client | undefined;
let load: Workload | undefined;
const pausedAnswers: string[] = [];

before(async () => {
  if (skip) return;
  cluster = await HostCluster.start({ shards: 1, replicas: 2, relays: true, replicationToml: REPLICATION, seed: SEED });
  probe = await cluster.connect({ retriesMax: 0, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  await cluster.waitAllInSync(probe);
});

after(async () => {
  probe?.close();
  await cluster?.close();
});

/** The phases of one run: in order the first time, then shuffled with the seed. */
function schedule(): Phase[] {
  const random = seededRandom(SEED);
  const out: Phase[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const phases = [...PHASES];
    if (round > 0) for (let i = phases.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [phases[i], phases[j]] = [phases[j]!, phases[i]!];
    }
    out.push(...phases);
  }
  return out;
}

async function rolesNow(): Promise<Roles> {
  const meta = await cluster!.shardMeta();
  const [a, b] = meta.members.filter((m) => m !== meta.leader).map((m) => cluster!.hostOf(m)).sort();
  return { leader: cluster!.hostOf(meta.leader), replicas: [a!, b!], term: meta.term };
}

test('under every nemesis the namespaced cluster fails over, loses no acknowledged acks=all write, stays linearizable per key with one node acknowledging per term, and its members converge', { skip }, async (t) => {
  const c = cluster!;
  const nemesis = new Nemesis(c);
  const connect: Connect = (o) => c.connect({ ...o, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  load = await Workload.start(connect, { workers: WORKERS, keys: 8, seed: SEED, opsMax: 500_000, durationMsMax: 60 * 60_000, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  const started = Date.now();
  const firstTerm = (await rolesNow()).term;
  let leaderFaults = 0;
  try {
    await load.waitForProgress(ACKED, 'writes acknowledged before any fault');
    for (const phase of schedule()) {
      const phaseStarted = Date.now();
      const roles = await rolesNow();
      await phase.fault(nemesis, roles);
      await phase.shows?.(roles);
      await load.waitForProgress(phase.progress, `the load to get through: ${phase.name}`);
      await phase.beforeUndo?.(roles);
      await phase.undo(nemesis, roles);
      await phase.afterUndo?.(roles);
      if (phase.failsOver) leaderFaults++;
      await load.waitForProgress(ACKED, `writes acknowledged again after: ${phase.name}`);
      await c.waitAllInSync(probe!);
      t.diagnostic(`${phase.name}: ${Date.now() - phaseStarted} ms; leader ${roles.leader} at term ${roles.term} before; ${JSON.stringify(load.counts())}`);
    }
  } finally {
    await nemesis.healAll();
    await load.stop();
  }
  await c.waitSettled(probe!);
  const report = await load.check(connect, nemesis.log);
  const relays = await Promise.all([...c.relays.values()].map(async (r) => ({ host: r.host.name, ...(await r.stats()) })));
  const last = await rolesNow();
  t.diagnostic(`${report.summary}; ${Date.now() - started} ms under load; terms ${firstTerm} to ${last.term}, ${last.leader} leads at the end`);
  for (const answer of pausedAnswers) t.diagnostic(`a write sent to the paused leader: ${answer}`);
  t.diagnostic(`errors seen by the load: ${[...report.errors].map(([code, n]) => `${code} ${n}`).join(', ')}`);
  t.diagnostic(`relays: ${relays.map((s) => `${s.host} ${s.connections} connections, ${s.bytesForwarded} bytes, ${s.chunksDelayed} chunks delayed, ${s.chunksStalled} stalled`).join('; ')}`);

  assert.deepEqual(report.lost, [], report.explain());
  assert.equal(report.linearizability.verdict, 'linearizable', report.explain());
  assert.deepEqual(report.termConflicts, [], report.explain());
  assert.deepEqual(report.unlabelled, [], report.explain());
  assert.ok(report.counts.acknowledged >= PHASE_ACKS * PHASES.length, `only ${report.counts.acknowledged} writes were acknowledged`);
  assert.ok(last.term - firstTerm >= leaderFaults, `the shard failed over ${last.term - firstTerm} times; ${leaderFaults} phases cut off, paused or killed its leader`);
  const leaderData = await c.dataOf(probe!, last.leader);
  assert.equal(leaderData.size, load.keys.filter((k) => report.finalValues.get(k) !== null).length, 'the leader holds exactly the keys the final reads found');
  for (const replica of last.replicas) assert.deepEqual(await c.dataOf(probe!, replica), leaderData, `${replica} holds the leader's data`);
  const counts = nemesis.log.counts();
  for (const kind of EVERY_KIND) assert.ok((counts.get(kind) ?? 0) >= ROUNDS, `nemesis ${kind} ran ${counts.get(kind) ?? 0} times`);
});
