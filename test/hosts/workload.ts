/**
 * A Jepsen-style register workload for cluster suites: `workers` clients (the routing client,
 * no retries) read and write a few keys at random, writes with acks=all and a unique value
 * each, reads from leaders, every operation recorded in a History (test/checker). It runs
 * until stopped or until its count or time bound. `check` then reads every key once, quietly,
 * and judges the history: acknowledged writes lost (`findLostWrites`) and per-key
 * linearizability (`checkLinearizable`), with a one-line summary that also counts the
 * nemesis's events.
 *
 * @example
 * ```ts
 * const load = await Workload.start(() => cluster.connect({ retriesMax: 0 }), { seed: 7 });
 * await load.waitForProgress({ acknowledged: 100 }, 'writes before the fault');
 * await nemesis.isolate('h2');
 * …
 * await load.stop();
 * const report = await load.check(() => cluster.connect(), nemesis.log);
 * assert.deepEqual(report.lost, [], report.explain());
 * ```
 *
 * Outcomes: a read that fails is `fail` (it changed nothing). A write is `fail` only when it
 * certainly was not made: an answer below 500, a refusal the API documents as "before
 * anything is written" (NOT_ENOUGH_REPLICAS, OVERLOADED, …), or a refused connection. Every
 * other error (a timeout, a reset, UNCONFIRMED, NOT_LEADER) is `info`: it may land any time.
 * After an error a worker backs off (doubling, capped), as a real client would, so a dead
 * leader does not turn into thousands of instant failures.
 *
 * Concurrency: workers interleave at their awaits; the History is appended synchronously
 * right before each request and right after its answer (history.ts's rule).
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { checkLinearizable, findLostWrites, History, type LinearizabilityResult, type LostWrite, type Value } from '../checker/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { ClientError, ConnectionError, type Client } from '../../net/index.ts';
import { formatTimeline, NemesisLog } from './nemesis-log.ts';

export interface WorkloadOptions {
  workers?: number;
  keys?: number;
  keyPrefix?: string;
  /** Share of operations that are reads. */
  readShare?: number;
  /** Operations in all, at most. */
  opsMax?: number;
  durationMsMax?: number;
  seed?: number;
  /** The checker's search bound per key. */
  stepsMax?: number;
}

const DEFAULTS = { workers: 6, keys: 8, keyPrefix: 'reg-', readShare: 0.5, opsMax: 20_000, durationMsMax: 120_000, seed: 1, stepsMax: 5_000_000 };
const BACKOFF_MS_MIN = 20;
const BACKOFF_MS_MAX = 500;
const PROGRESS_WAIT_MS = 60_000;
const PROGRESS_POLL_MS = 20;
/** Errors that prove a write was not made: the node refused it before writing (docs/replication.md). */
const NOT_APPLIED = new Set(['NOT_ENOUGH_REPLICAS', 'OVERLOADED', 'SHUTTING_DOWN', 'WRITE_STALLED', 'DB_CLOSED']);

/** `started` counts operations sent; the others count completed ones. */
export interface WorkloadCounts {
  started: number;
  reads: number;
  readsOk: number;
  writes: number;
  acknowledged: number;
  failed: number;
  unknown: number;
}

export interface WorkloadReport {
  counts: WorkloadCounts;
  finalValues: Map<string, Value>;
  lost: LostWrite[];
  linearizability: LinearizabilityResult;
  summary: string;
  /** The checkers' explanations and, for a key that failed, its timeline with the nemesis's events. */
  explain(): string;
}

type Connect = () => Promise<Client>;

export class Workload {
  readonly history = new History();
  readonly keys: string[];
  private readonly options: typeof DEFAULTS;
  private readonly counters: WorkloadCounts = { started: 0, reads: 0, readsOk: 0, writes: 0, acknowledged: 0, failed: 0, unknown: 0 };
  private readonly clients: Client[];
  private stopped = false;
  private ended = false;
  private readonly done: Promise<void>;

  private constructor(clients: Client[], options: typeof DEFAULTS) {
    this.clients = clients;
    this.options = options;
    this.keys = Array.from({ length: options.keys }, (_, i) => `${options.keyPrefix}${i}`);
    const deadline = Date.now() + options.durationMsMax;
    this.done = Promise.all(clients.map((c, i) => this.worker(i, c, deadline))).then(() => {
      this.ended = true;
    });
  }

  /** Connects every worker's client, then starts them. */
  static async start(connect: Connect, options: WorkloadOptions = {}): Promise<Workload> {
    const resolved = { ...DEFAULTS, ...options };
    const clients = await Promise.all(Array.from({ length: resolved.workers }, () => connect()));
    return new Workload(clients, resolved);
  }

  counts(): WorkloadCounts {
    return { ...this.counters };
  }

  /** Completed operations so far (every outcome). */
  completed(): number {
    const c = this.counters;
    return c.reads + c.writes;
  }

  /** Waits until `completed` more operations finished, or `acknowledged` more writes were acknowledged, counted from now. */
  async waitForProgress(more: { completed?: number; acknowledged?: number }, what: string, timeoutMs = PROGRESS_WAIT_MS): Promise<void> {
    const completedTarget = this.completed() + (more.completed ?? 0);
    const ackTarget = this.counters.acknowledged + (more.acknowledged ?? 0);
    const deadline = Date.now() + timeoutMs;
    while (this.completed() < completedTarget || this.counters.acknowledged < ackTarget) {
      if (this.ended) throw new Error(`workload: ended before ${what} (its ${this.options.opsMax} operations or ${this.options.durationMsMax} ms are used up)`);
      if (Date.now() > deadline) throw new Error(`workload: not within ${timeoutMs} ms: ${what} (${JSON.stringify(this.counts())})`);
      await delay(PROGRESS_POLL_MS);
    }
  }

  /** Resolves when every worker has stopped on its own (count or time bound reached). */
  finished(): Promise<void> {
    return this.done;
  }

  /** Asks every worker to stop after its current operation; resolves when all have. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    for (const c of this.clients) c.close();
  }

  /** Reads every key once (no other load may run), then checks the whole history. */
  async check(connect: Connect, nemesis: NemesisLog = new NemesisLog()): Promise<WorkloadReport> {
    assert.ok(this.ended, 'workload: check() after stop()');
    const client = await connect();
    const finalValues = new Map<string, Value>();
    try {
      for (const key of this.keys) {
        const id = this.history.invoke('final', { type: 'read', key });
        const value = await client.get(key);
        const text = value === undefined ? null : Buffer.from(value).toString('utf8');
        this.history.ok(id, text);
        finalValues.set(key, text);
      }
    } finally {
      client.close();
    }
    const lost = findLostWrites(this.history.events, finalValues);
    const linearizability = checkLinearizable(this.history.events, { stepsMax: this.options.stepsMax });
    const c = this.counters;
    const summary =
      `operations ${c.reads + c.writes} (reads ${c.reads}, ${c.readsOk} ok; writes ${c.writes}: ${c.acknowledged} acknowledged, ${c.failed} failed, ${c.unknown} unknown); ` +
      `lost ${lost.length}; ${linearizability.verdict} (${linearizability.keys} keys, ${linearizability.steps} steps); nemesis: ${nemesis.countsText()}`;
    const explain = () => {
      const keysToShow = new Set([...lost.map((l) => l.key), ...(linearizability.key === undefined ? [] : [linearizability.key])]);
      const parts = [summary, ...lost.map((l) => l.explanation), linearizability.ok ? '' : linearizability.explanation];
      for (const key of keysToShow) parts.push(`timeline of ${key}:\n${formatTimeline(this.history.events.filter((e) => e.op.key === key), nemesis.events)}`);
      return parts.filter(Boolean).join('\n');
    };
    return { counts: this.counts(), finalValues, lost, linearizability, summary, explain };
  }

  private async worker(id: number, client: Client, deadline: number): Promise<void> {
    const random = seededRandom(this.options.seed * 1000 + id);
    let backoffMs = 0;
    while (!this.stopped && this.counters.started < this.options.opsMax && Date.now() < deadline) {
      this.counters.started++;
      const key = this.keys[Math.floor(random() * this.keys.length)]!;
      const ok = random() < this.options.readShare ? await this.read(id, client, key) : await this.write(id, client, key, `w${id}-${this.counters.started}`);
      backoffMs = ok ? 0 : Math.min(BACKOFF_MS_MAX, Math.max(BACKOFF_MS_MIN, backoffMs * 2));
      if (backoffMs > 0) await delay(backoffMs);
    }
  }

  private async read(id: number, client: Client, key: string): Promise<boolean> {
    const op = this.history.invoke(id, { type: 'read', key });
    try {
      const value = await client.get(key);
      this.history.ok(op, value === undefined ? null : Buffer.from(value).toString('utf8'));
      this.counters.readsOk++;
      return true;
    } catch (error) {
      this.history.fail(op, codeOf(error));
      return false;
    } finally {
      this.counters.reads++;
    }
  }

  private async write(id: number, client: Client, key: string, value: string): Promise<boolean> {
    const op = this.history.invoke(id, { type: 'write', key, value });
    try {
      await client.put(key, value, { acks: 'all' });
      this.history.ok(op);
      this.counters.acknowledged++;
      return true;
    } catch (error) {
      if (certainlyNotApplied(error)) {
        this.history.fail(op, codeOf(error));
        this.counters.failed++;
      } else {
        this.history.info(op, codeOf(error));
        this.counters.unknown++;
      }
      return false;
    } finally {
      this.counters.writes++;
    }
  }
}

function codeOf(error: unknown): string {
  if (error instanceof ClientError) {
    const cause = error.cause instanceof ConnectionError ? (error.cause.cause as NodeJS.ErrnoException | undefined)?.code : undefined;
    return cause ? `${error.code} ${cause}` : error.code;
  }
  return (error as Error).message;
}

/** True when the write certainly was not made (see the file comment); false means unknown. */
export function certainlyNotApplied(error: unknown): boolean {
  if (!(error instanceof ClientError)) return false;
  if (error.status !== undefined) return error.status < 500 || NOT_APPLIED.has(error.code);
  const connection = error.cause instanceof ConnectionError ? (error.cause.cause as NodeJS.ErrnoException | undefined) : undefined;
  return connection?.code === 'ECONNREFUSED';
}
