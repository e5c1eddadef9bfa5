/**
 * The steps failover tests share: wait for the control plane's automatic election of a new
 * shard leader (as the live nodes see it, and until that leader holds its lease), read what the
 * control plane said when it chose (its "elected a new shard leader" log line), and count a
 * history's outcomes for the test's report.
 */
import type { HistoryEvent } from '../checker/index.ts';
import type { NodeProcess } from '../helpers/cluster-harness.ts';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { rawRequest } from '../helpers/http.ts';
import { clusterView, electionOf, nodeView, requestPromote, waitFor, waitForValue, WAIT_MS, type ElectionReport, type ShardView } from './nodes.ts';
import type { Load } from './write-load.ts';

/** What the control plane logs when a shard's lease ended and no in-sync member answered. */
export const NO_CANDIDATE = 'shard leader lost its lease and no in-sync member answered; the shard takes no writes';

export interface Election {
  shard: string;
  leader: string;
  term: number;
}

/** A member's position as the control plane asked it before choosing. */
export interface Candidate {
  node: string;
  dataTerm: number;
  lastSequence: number;
}

/** The shard `name` as the freshest view among `observers` shows it (the highest metadata version that answers). */
export async function shardView(observers: readonly string[], name: string): Promise<ShardView> {
  const views = await Promise.all(observers.map((address) => clusterView(address).catch((error: unknown) => error as Error)));
  const answered = views.filter((v): v is { version: number; shards: ShardView[] } => !(v instanceof Error));
  const freshest = answered.sort((a, b) => b.version - a.version)[0]?.shards.find((s) => s.name === name);
  if (freshest) return freshest;
  const errors = views.filter((v) => v instanceof Error).map((e) => (e as Error).message);
  throw new Error(`no observer (${observers.join(', ')}) shows shard ${name}${errors.length > 0 ? `: ${errors.join('; ')}` : ''}`);
}

/**
 * Waits until the freshest view among `observers` routes `shard` to a leader at a term past
 * `after`, and that leader is ready (it holds its lease); returns the leader and its term.
 */
export async function waitElection(observers: readonly string[], shard: string, after: number): Promise<Election> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no leader of ${shard} elected past term ${after} kept its lease within ${WAIT_MS} ms (observed on ${observers.join(', ')})`);
    const elected = await waitForValue(`a leader of ${shard} elected past term ${after} (observed on ${observers.join(', ')})`, async () => {
      const s = await shardView(observers, shard);
      return s.term > after ? { shard, leader: s.leader, term: s.term } : undefined;
    });
    // A leader elected and deposed at once (its lease not taken in time) is passed over for the next.
    if (await leading(elected.leader, shard, elected.term)) return elected;
    after = elected.term;
  }
}

/** The leader of `shard` now (as `observers` route by it), once it holds its lease. */
export async function currentLeader(observers: readonly string[], shard: string): Promise<string> {
  return (await waitElection(observers, shard, 0)).leader;
}

/** Waits until `leader` says it leads `shard` at `term` and holds its lease (it takes writes). */
export async function waitLeading(leader: string, shard: string, term: number): Promise<void> {
  if (!(await leading(leader, shard, term))) throw new Error(`${leader} did not lead ${shard} at term ${term} with a lease within ${WAIT_MS} ms`);
}

/** Whether `leader` comes to lead `shard` at `term` with a lease (within WAIT_MS); false once it is past that term. */
async function leading(leader: string, shard: string, term: number): Promise<boolean> {
  let answer = false;
  await waitFor(`${leader} leading ${shard} at term ${term} with a lease`, async () => {
    const res = await rawRequest(leader, 'GET', '/healthz');
    const body = res.json() as { ready?: boolean; role?: string; shard?: string; term?: number };
    answer = res.status === 200 && body.ready === true && body.role === 'leader' && body.shard === shard && body.term === term;
    return answer || (body.term ?? 0) > term;
  });
  return answer;
}

/**
 * What the control plane logged when it elected `term`'s leader of `shard`, waiting for the line
 * (it travels on the controller's stderr, which may lag the HTTP answers the test saw).
 */
export function waitElectionRecord(controllers: readonly NodeProcess[], shard: string, term: number) {
  return waitForValue(`the control plane's log of ${shard}'s election at term ${term}`, () => electionRecord(controllers, shard, term));
}

/** What the control plane logged when it elected `term`'s leader of `shard` (found on whichever controller led then), if it has arrived. */
export function electionRecord(controllers: Iterable<NodeProcess>, shard: string, term: number): { leader: string; previous: string; candidates: Candidate[] } | undefined {
  for (const node of controllers) {
    const line = node.logs('elected a new shard leader').find((l) => l['shard'] === shard && l['term'] === term);
    if (line) return { leader: line['leader'] as string, previous: line['previous'] as string, candidates: line['candidates'] as Candidate[] };
  }
  return undefined;
}

/** How many times the control plane reported finding no in-sync member of `shard` to elect. */
export function noCandidateReports(controllers: Iterable<NodeProcess>, shard: string): number {
  return [...controllers].reduce((sum, node) => sum + node.logs(NO_CANDIDATE).filter((l) => l['shard'] === shard).length, 0);
}

/**
 * POST /admin/promote (`unclean` or not) on `node` until the old leader's lease has certainly
 * ended: NOT_PROMOTABLE (the lease may still hold) is waited out (`onRefused` counts it); any
 * other refusal throws.
 */
export async function promoteOnceLeaseEnded(node: string, unclean: boolean, onRefused: () => void = () => {}): Promise<ElectionReport> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const res = await requestPromote(node, unclean);
    const stillLeased = res.status === 409 && (res.json() as { code?: string }).code === 'NOT_PROMOTABLE';
    if (!stillLeased || Date.now() > deadline) return electionOf(res, `${unclean ? 'unclean ' : ''}promotion of ${node}`);
    onRefused();
    await delay(50);
  }
}

/**
 * Waits until `reached()` holds for the load; fails, saying how far the load got, if the load
 * ends first (its workers stop at the first connection failure) or within `timeoutMs`. Never a
 * silent timeout: a test that goes on without the writes it waited for tests less (issue 16,
 * finding 14).
 */
export async function waitForLoad(load: Load, what: string, reached: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  let ended = false;
  void load.done.then(() => (ended = true));
  await waitFor(what, () => reached() || ended, timeoutMs);
  if (!reached()) throw new Error(`the write load ended before ${what}: ${load.acknowledged()} acknowledged, ${load.unacknowledged()} not`);
}

/**
 * The operator's way out when a shard's in-sync set is its dead leader alone: waits until the
 * control plane has reported (past `reportsBefore`) that no in-sync member answered, checks
 * that a clean promotion of each of `members` is refused (NOT_IN_SYNC), then promotes the one
 * that applied the most with `unclean=true` and waits until it leads. Returns it, with the
 * positions compared and the election's report.
 */
export async function uncleanFailover(controllers: readonly NodeProcess[], shard: string, members: readonly string[], reportsBefore: number) {
  await waitFor('the control plane to report that no in-sync member answered', () => noCandidateReports(controllers, shard) > reportsBefore);
  for (const node of members) {
    const refused = await requestPromote(node);
    assert.equal(refused.status, 409, refused.body.toString());
    assert.equal((refused.json() as { code?: string }).code, 'NOT_IN_SYNC', `a clean promotion of ${node}: ${refused.body.toString()}`);
  }
  const positions = await Promise.all(members.map(async (r) => (await nodeView(r)).lastSequence));
  const chosen = members[positions.indexOf(Math.max(...positions))]!;
  const report = await promoteOnceLeaseEnded(chosen, true);
  assert.equal(report.leader, chosen);
  await waitLeading(chosen, shard, report.term);
  return { chosen, positions, report };
}

export function countOutcomes(events: readonly HistoryEvent[]): { ok: number; fail: number; info: number } {
  const counts = { ok: 0, fail: 0, info: 0 };
  let invokes = 0;
  for (const e of events) {
    if (e.kind === 'invoke') invokes++;
    else counts[e.kind]++;
  }
  // An operation never completed counts as unknown.
  counts.info += invokes - counts.ok - counts.fail - counts.info;
  return counts;
}
