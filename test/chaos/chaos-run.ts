/**
 * The chaos run (issue 14): a 3-shard cluster (a leader and 2 replicas each) under a mixed
 * load of `workers` connections (acks=all writes and leader reads on a small key set), whose
 * shard leaders are killed with kill -9, one at a time at random every few seconds and
 * restarted a little later, for `seconds`; then the whole history is checked: no acknowledged
 * acks=all write lost, every key linearizable, never two nodes acknowledging writes for one
 * shard at one term. Each failover is timed (failover-timing.ts). `npm run chaos` (main.ts)
 * prints the report; chaos.test.ts runs a short one in CI.
 *
 * Controllers: `dedicated` by default, three controller-only nodes. The run kills shard
 * leaders, and with the config's default placement (the first three shard nodes) a kill would
 * sometimes take the control plane's own leader too, or, with two kills overlapping, its
 * majority: a different fault (a control-plane election, then a whole lease waited for every
 * shard), which would blur the figure the issue asks for. `colocated` runs it anyway (the
 * killer then never leaves fewer than a majority of controllers running).
 *
 * Which leader is killed: a shard is eligible when every member runs, its committed in-sync
 * set holds them all, and the failover caused by its previous kill has finished (the
 * metadata shows a later term). So every kill starts a clean failover, never one onto a
 * shard short of replicas (that would time the restart, not the failover). The killed node
 * is restarted `restartAfterMs` after the kill, sometimes before the election (it is then a
 * candidate again). While a failover runs, a probe polls the shard's other members' /healthz
 * to see when the new leader is ready (holds its lease).
 *
 * Concurrency: the load's workers, the killer loop, each kill's probe and each restart run at
 * once on the event loop; the killer awaits each kill; the run waits for every restart and
 * probe before it checks.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { Client, HttpTransport } from '../../net/index.ts';
import type { ShardMeta } from '../../cluster/control/metadata.ts';
import { Workload, type Connect, type WorkloadReport } from '../hosts/workload.ts';
import { failoverTimings, formatSpread, spread, type FailoverTiming, type Kill, type Spread, type TermEvent } from './failover-timing.ts';
import { LocalCluster, type ControllerPlacement, type LogLine } from './local-cluster.ts';

export interface ChaosOptions {
  seconds: number;
  seed: number;
  controllers: ControllerPlacement;
  workers: number;
  keys: number;
  /** Mean time between kills (each is drawn from 0.75× to 1.25× of it). */
  killEveryMs: number;
  /** The killed node is restarted after a delay drawn from this range. */
  restartAfterMs: readonly [number, number];
  /** Lines of cluster.toml's [control] table (default: none, the defaults). */
  controlToml?: string;
  /** Progress lines as the run goes (default: none). */
  progress?: (line: string) => void;
  /** For each failover slower than this, the nodes' log lines from its kill to its first acknowledged write go in the report. */
  explainSlowerMs?: number;
}

export const CHAOS_DEFAULTS = {
  seed: 1, controllers: 'dedicated' as ControllerPlacement, workers: 50, keys: 30, killEveryMs: 3_000, restartAfterMs: [1_000, 4_000] as const,
};

export interface ChaosReport {
  options: ChaosOptions;
  /** Time under load, kills included, and until the cluster was whole again. */
  loadMs: number;
  workload: WorkloadReport;
  failovers: FailoverTiming[];
  unavailability: Spread;
  parts: { lease: Spread; metadata: Spread; grant: Spread; clients: Spread };
  /** Every broken promise, one line each; empty for a passing run. */
  violations: string[];
  /** The timelines of the failovers slower than `explainSlowerMs`. */
  explanations: string[];
  /** What the nodes logged at level error (cluster.errorsLogged()): not a violation of the issue's promises, but never expected. */
  errorsLogged: string;
}

const SHARDS = 3;
const REPLICAS = 2;
/** Bounds on the waits around the faults. */
const HEAL_WAIT_MS = 180_000;
const PROBE_WAIT_MS = 60_000;
const PROBE_POLL_MS = 50;
const ELIGIBLE_POLL_MS = 200;
/** Before the load: the metadata unchanged this long (a start on a busy machine may churn terms). */
const SETTLED_QUIET_MS = 3_000;
/** Keys each shard must get, so every failover is seen by the load. */
const KEYS_PER_SHARD_MIN = 3;

/** Runs the whole chaos run; never throws for a violation (they are in the report), only for a harness failure. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const say = options.progress ?? (() => {});
  const started = Date.now();
  const cluster = await LocalCluster.start({ shards: SHARDS, replicas: REPLICAS, controllers: options.controllers, controlToml: options.controlToml });
  say(`cluster of ${cluster.addresses.length} nodes ready in ${Date.now() - started} ms (controllers ${options.controllers}: ${cluster.controllers.join(', ')})`);
  try {
    await cluster.waitSettled(SETTLED_QUIET_MS, HEAL_WAIT_MS);
    const seeds = cluster.shards.flatMap((s) => [s.leader, ...s.replicas]);
    const connect: Connect = (o) => Client.connect(seeds, o);
    const load = await Workload.start(connect, {
      workers: options.workers, keys: options.keys, seed: options.seed, readShare: 0.5, opsMax: 50_000_000,
      durationMsMax: options.seconds * 1000 + HEAL_WAIT_MS + 60_000, requestTimeoutMs: 5_000, backoffMsMax: 200, writeRetryMsMax: 10_000,
    });
    const loadStarted = Date.now();
    const chaos = new Killer(cluster, options, say);
    try {
      await checkKeySpread(connect, load.keys);
      await load.waitForProgress({ acknowledged: 50 }, 'writes acknowledged before the first kill');
      await chaos.run(options.seconds * 1000);
      await chaos.settled();
      await cluster.waitWhole(HEAL_WAIT_MS);
      // Every shard takes writes again, so every failover has its first acknowledgement.
      await load.waitForProgress({ acknowledged: 50 }, 'writes acknowledged once the cluster is whole again');
    } finally {
      await load.stop();
    }
    const loadMs = Date.now() - loadStarted;
    const workload = await load.check(connect);
    return report(options, cluster, chaos, workload, loadMs);
  } finally {
    await cluster.close();
  }
}

function report(options: ChaosOptions, cluster: LocalCluster, chaos: Killer, workload: WorkloadReport, loadMs: number): ChaosReport {
  const lines = cluster.logLines();
  const elections = termEvents(lines.filter((l) => l.message === 'elected a new shard leader'), (l) => String(l.fields['leader']));
  const leading = termEvents(lines.filter((l) => l.message === 'leading the shard'), (l) => l.node);
  const failovers = failoverTimings(chaos.kills, elections, leading, chaos.ready, workload.acknowledgements);
  const violations: string[] = [...chaos.problems];
  if (workload.lost.length > 0) violations.push(`${workload.lost.length} acknowledged acks=all writes lost: ${workload.lost[0]!.explanation}`);
  if (!workload.linearizability.ok) violations.push(`not linearizable (${workload.linearizability.verdict}): ${workload.linearizability.explanation.split('\n')[0]}`);
  for (const c of workload.termConflicts) violations.push(c.explanation);
  if (workload.unlabelled.length > 0) violations.push(`${workload.unlabelled.length} writes acknowledged without X-Shard or X-Term`);
  if (failovers.length === 0) violations.push('no leader was killed: the run proved nothing about failover (run longer)');
  for (const f of failovers) if (f.unavailableMs === undefined) violations.push(`${f.kill.shard} took no write at a term above ${f.kill.term} after its leader ${f.kill.node} was killed`);
  const slower = options.explainSlowerMs;
  const explanations = slower === undefined ? [] : failovers.filter((f) => (f.unavailableMs ?? Infinity) > slower).map((f) => {
    const from = f.kill.time + performance.timeOrigin;
    const to = (f.firstAck?.time ?? f.kill.time + 60_000) + performance.timeOrigin;
    return `${describeFailover(f)}; the nodes logged:\n${cluster.timeline(from, to)}`;
  });
  return {
    options, loadMs, workload, failovers, violations, explanations, errorsLogged: cluster.errorsLogged(),
    unavailability: spread(failovers.map((f) => f.unavailableMs)),
    parts: {
      lease: spread(failovers.map((f) => f.parts.leaseMs)),
      metadata: spread(failovers.map((f) => f.parts.metadataMs)),
      grant: spread(failovers.map((f) => f.parts.grantMs)),
      clients: spread(failovers.map((f) => f.parts.clientsMs)),
    },
  };
}

/** The report as the lines `npm run chaos` prints. */
export function formatReport(r: ChaosReport): string[] {
  const c = r.workload.counts;
  const errors = [...r.workload.errors].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  return [
    `chaos: ${r.options.seconds} s of kills, seed ${r.options.seed}, controllers ${r.options.controllers}, ${r.options.workers} connections, ${r.options.keys} keys; ${Math.round(r.loadMs / 1000)} s under load`,
    `operations ${c.reads + c.writes}: reads ${c.reads} (${c.readsOk} ok), write attempts ${c.writes} (${c.acknowledged} acknowledged, ${c.failed} failed, ${c.unknown} unknown, ${c.retried} retries); writes failed after 10 s of retries: ${c.writesFailed}`,
    `acknowledged ${c.acknowledged}, lost ${r.workload.lost.length}, ${r.workload.linearizability.verdict} (${r.workload.linearizability.keys} keys, ${r.workload.linearizability.steps} steps), two nodes acknowledging in one term: ${r.workload.termConflicts.length === 0 ? 'never' : r.workload.termConflicts.length}`,
    `failovers ${r.failovers.length}; write unavailability per failover (kill -9 to the first acknowledged write of the shard): ${formatSpread(r.unavailability)}`,
    `  kill -> elected (lease expiry + election): ${formatSpread(r.parts.lease)}`,
    `  elected -> new leader leading (metadata): ${formatSpread(r.parts.metadata)}`,
    `  leading -> ready (its first lease): ${formatSpread(r.parts.grant)}`,
    `  ready -> first acknowledged write (clients): ${formatSpread(r.parts.clients)}`,
    ...r.failovers.map((f) => `  ${describeFailover(f)}`),
    `errors seen by the load: ${errors}`,
    `errors the nodes logged: ${r.errorsLogged}`,
    ...r.explanations,
    r.violations.length === 0 ? 'verdict: PASS (0 lost, linearizable, one node per shard and term)' : `verdict: FAIL\n${r.violations.map((v) => `  violation: ${v}`).join('\n')}`,
  ];
}

/** `shard-1: kill -9 of A at term 3, B elected at term 4, unavailable 2345 ms (lease 1700, metadata 50, grant 100, clients 495 ms)`. */
function describeFailover(f: FailoverTiming): string {
  const ms = (v: number | undefined) => (v === undefined ? '?' : String(Math.round(v)));
  const p = f.parts;
  return `${f.kill.shard}: kill -9 of ${f.kill.node} at term ${f.kill.term}, ${f.elected ? `${f.elected.node} elected at term ${f.elected.term}` : 'no election seen'}, ` +
    `unavailable ${ms(f.unavailableMs)} ms (lease ${ms(p.leaseMs)}, metadata ${ms(p.metadataMs)}, grant ${ms(p.grantMs)}, clients ${ms(p.clientsMs)} ms)`;
}

/** The report's figures as one JSON object (for the CI test and for scripts). */
export function reportJson(r: ChaosReport): Record<string, unknown> {
  return {
    seconds: r.options.seconds, seed: r.options.seed, controllers: r.options.controllers, loadMs: r.loadMs,
    counts: r.workload.counts, acknowledged: r.workload.counts.acknowledged, lost: r.workload.lost.length,
    linearizable: r.workload.linearizability.verdict, termConflicts: r.workload.termConflicts.length,
    failovers: r.failovers.length, unavailability: r.unavailability, parts: r.parts,
    perFailover: r.failovers.map((f) => ({ shard: f.kill.shard, node: f.kill.node, term: f.kill.term, newLeader: f.elected?.node, unavailableMs: f.unavailableMs, ...f.parts })),
    violations: r.violations, errorsLogged: r.errorsLogged,
  };
}

/** Log lines with `shard` and `term` fields as events on the History's clock. */
function termEvents(lines: readonly LogLine[], nodeOf: (l: LogLine) => string): TermEvent[] {
  return lines.map((l) => ({ shard: String(l.fields['shard']), node: nodeOf(l), term: Number(l.fields['term']), time: l.timeMs - performance.timeOrigin }));
}

/** The kills, their probes and restarts. */
class Killer {
  readonly kills: Kill[] = [];
  readonly ready: TermEvent[] = [];
  readonly problems: string[] = [];
  private readonly pending = new Set<Promise<void>>();
  /** Per shard, the term its last kill happened at: eligible again once the metadata is past it. */
  private readonly killedAt = new Map<string, number>();
  private readonly random: () => number;

  constructor(private readonly cluster: LocalCluster, private readonly options: ChaosOptions, private readonly say: (line: string) => void) {
    this.random = seededRandom(options.seed);
  }

  /** Kills a leader every few seconds for `durationMs`. */
  async run(durationMs: number): Promise<void> {
    const started = Date.now();
    const end = started + durationMs;
    while (Date.now() < end) {
      await delay(this.options.killEveryMs * (0.75 + 0.5 * this.random()));
      while (Date.now() < end) {
        const shard = await this.pickShard();
        if (shard) {
          await this.kill(shard, (Date.now() - started) / 1000);
          break;
        }
        await delay(ELIGIBLE_POLL_MS);
      }
    }
  }

  /** Resolves once every restart and probe has ended. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async pickShard(): Promise<ShardMeta | undefined> {
    const metadata = await this.cluster.metadata().catch(() => undefined);
    if (!metadata) return undefined;
    const eligible = metadata.shards.filter((s) =>
      s.members.every((m) => this.cluster.running(m)) && s.members.every((m) => s.inSync.includes(m)) &&
      s.term > (this.killedAt.get(s.name) ?? 0) && this.controllerMajorityAfterKilling(s.leader));
    return eligible.length === 0 ? undefined : eligible[Math.floor(this.random() * eligible.length)];
  }

  private controllerMajorityAfterKilling(node: string): boolean {
    const up = this.cluster.controllers.filter((c) => c !== node && this.cluster.running(c)).length;
    return up > this.cluster.controllers.length / 2;
  }

  private async kill(shard: ShardMeta, atSeconds: number): Promise<void> {
    const kill: Kill = { shard: shard.name, node: shard.leader, term: shard.term, time: performance.now() };
    await this.cluster.kill(shard.leader);
    this.kills.push(kill);
    this.killedAt.set(shard.name, shard.term);
    this.say(`${atSeconds.toFixed(1)} s: kill -9 of ${shard.leader}, leader of ${shard.name} at term ${shard.term}`);
    this.track(this.probe(shard));
    const restartAfterMs = this.options.restartAfterMs[0] + this.random() * (this.options.restartAfterMs[1] - this.options.restartAfterMs[0]);
    this.track(delay(restartAfterMs).then(() => this.cluster.startNode(shard.leader)).then(
      () => undefined,
      (error: unknown) => void this.problems.push(`restarting ${shard.leader} failed: ${(error as Error).message.split('\n')[0]}`),
    ));
  }

  /** Polls the shard's other members until one is ready as its leader at a later term. */
  private async probe(shard: ShardMeta): Promise<void> {
    const others = shard.members.filter((m) => m !== shard.leader);
    const deadline = Date.now() + PROBE_WAIT_MS;
    while (Date.now() < deadline) {
      for (const node of others) {
        const seen = await healthOf(node);
        if (seen?.ready && seen.role === 'leader' && seen.term > shard.term) {
          this.ready.push({ shard: shard.name, node, term: seen.term, time: performance.now() });
          return;
        }
      }
      await delay(PROBE_POLL_MS);
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}

async function healthOf(node: string): Promise<{ ready: boolean; role: string; term: number } | undefined> {
  try {
    const res = await fetch(`http://${node}/healthz`, { signal: AbortSignal.timeout(1_000) });
    return await res.json() as { ready: boolean; role: string; term: number };
  } catch {
    return undefined;
  }
}

/** Every shard must get a few of the load's keys, or its failovers go unseen. */
async function checkKeySpread(connect: Connect, keys: readonly string[]): Promise<void> {
  const client = await connect({ transport: new HttpTransport({ requestTimeoutMs: 5_000, responseBytesMax: 1 << 20, socketsPerNodeMax: 1 }), retriesMax: 0 });
  try {
    const topology = client.currentTopology();
    const counts = new Map(topology.shards.map((s) => [s.name, 0]));
    for (const key of keys) {
      const name = topology.shardOf(new TextEncoder().encode(key)).name;
      counts.set(name, counts.get(name)! + 1);
    }
    const short = [...counts].filter(([, n]) => n < KEYS_PER_SHARD_MIN);
    if (short.length > 0) throw new Error(`chaos: the load's ${keys.length} keys give ${short.map(([s, n]) => `${s} only ${n}`).join(', ')}; use more keys`);
  } finally {
    client.close();
  }
}
