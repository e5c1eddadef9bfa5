/**
 * A Jepsen-style register workload for cluster suites: `workers` clients (the routing client,
 * each with its own connections) read and write a few keys at random, writes with acks=all and
 * a unique value each, reads from leaders, every request recorded in a History (test/checker),
 * and every acknowledged write with the node that acknowledged it and its `X-Shard` and
 * `X-Term` (acknowledgements.ts; seen through a RecordingTransport). It runs until stopped or
 * until its count or time bound. `check` then reads every key once, quietly, and judges the
 * whole: acknowledged writes lost (`findLostWrites`), per-key linearizability
 * (`checkLinearizable`), and no two nodes acknowledging writes for one shard at one term
 * (`findTermConflicts`), with a one-line summary that also counts the nemesis's events.
 *
 * @example
 * ```ts
 * const load = await Workload.start((o) => cluster.connect(o), { seed: 7 });
 * await load.waitForProgress({ acknowledged: 100 }, 'writes before the fault');
 * await nemesis.isolate('h2');
 * …
 * await load.stop();
 * const report = await load.check((o) => cluster.connect(o), nemesis.log);
 * assert.deepEqual(report.lost, [], report.explain());
 * ```
 *
 * The client library's own retries are off (`retriesMax: 0` is passed to `connect`): it would
 * resend a PUT whose connection broke after it was sent, and a value applied twice, with
 * another write between, is a history no single write explains. Instead a worker, after any
 * failed request, backs off (doubling, capped) and refreshes its topology (the client refreshes
 * by itself only on a redirect, a refused retry or a higher `X-Version`, so a worker whose
 * leader died silently would otherwise keep asking the dead node). With `writeRetryMsMax`, a
 * failed write is tried again, for up to that long, as a NEW operation with a new value
 * (`w3-17`, then `w3-17.2`, …): the history stays exact (each attempt is what the server saw),
 * and the counts say how many writes the application saw fail in the end (`writesFailed`):
 * what a client that retries refusals and lost connections would have reported.
 *
 * Outcomes of one request: write-outcome.ts. A read that fails is `fail` (it changed nothing).
 *
 * Concurrency: workers interleave at their awaits; the History is appended synchronously
 * right before each request and right after its answer (history.ts's rule).
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { checkLinearizable, findLostWrites, History, type LinearizabilityResult, type LostWrite, type Value } from '../checker/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { percentEncode } from '../../protocol/index.ts';
import { ClientError, HttpTransport, type Client, type Transport, type TransportResponse } from '../../net/index.ts';
import { expectStatus } from '../../net/response.ts';
import { RecordingTransport } from '../helpers/recording-transport.ts';
import { findTermConflicts, unlabelled, type Acknowledgement, type TermConflict } from './acknowledgements.ts';
import { formatTimeline, NemesisLog } from './nemesis-log.ts';
import { certainlyNotApplied, codeOf } from './write-outcome.ts';

export { certainlyNotApplied } from './write-outcome.ts';

export interface WorkloadOptions {
  workers?: number;
  keys?: number;
  keyPrefix?: string;
  /** Share of operations that are reads. */
  readShare?: number;
  /** Operations in all, at most (each write attempt counts). */
  opsMax?: number;
  durationMsMax?: number;
  seed?: number;
  /** The checker's search bound per key. */
  stepsMax?: number;
  /** Each request's timeout (the worker's transport). */
  requestTimeoutMs?: number;
  /** A worker's backoff after a failure doubles from 20 ms up to this. */
  backoffMsMax?: number;
  /** How long a failed write is tried again (as new attempts); 0: never. */
  writeRetryMsMax?: number;
  /** Makes a worker's transport (default: an HttpTransport); it is wrapped to record who answered. */
  transport?: () => Transport;
}

const DEFAULTS = {
  workers: 6, keys: 8, keyPrefix: 'reg-', readShare: 0.5, opsMax: 20_000, durationMsMax: 120_000, seed: 1, stepsMax: 5_000_000,
  requestTimeoutMs: 5_000, backoffMsMax: 500, writeRetryMsMax: 0,
};
const BACKOFF_MS_MIN = 20;
const PROGRESS_WAIT_MS = 60_000;
const PROGRESS_POLL_MS = 20;
/** The final reads are retried (a read is harmless) while a just-healed shard settles. */
const FINAL_READ_WAIT_MS = 30_000;
const RESPONSE_BYTES_MAX = 1024 * 1024;

/** `started` counts requests sent; the others count completed ones. Attempts are requests; `writesFailed` counts writes that failed after their retries. */
export interface WorkloadCounts {
  started: number;
  reads: number;
  readsOk: number;
  writes: number;
  acknowledged: number;
  failed: number;
  unknown: number;
  /** Writes tried again after a failure (attempts beyond a write's first). */
  retried: number;
  /** Writes (with all their attempts) that were not acknowledged in the end. */
  writesFailed: number;
}

export interface WorkloadReport {
  counts: WorkloadCounts;
  /** Failed requests by code (`LEASE_EXPIRED`, `UNAVAILABLE ECONNREFUSED`, …). */
  errors: Map<string, number>;
  finalValues: Map<string, Value>;
  lost: LostWrite[];
  linearizability: LinearizabilityResult;
  acknowledgements: readonly Acknowledgement[];
  termConflicts: TermConflict[];
  /** Acknowledgements without `X-Shard` or `X-Term`. */
  unlabelled: Acknowledgement[];
  summary: string;
  /** The checkers' explanations and, for a key that failed, its timeline with the nemesis's events. */
  explain(): string;
}

/** What a node answered a direct write: its status (undefined: no answer), code (`ACKNOWLEDGED` for a 204, `REDIRECTED` for a 307) and message, and `X-Term`. */
export interface DirectAnswer {
  status: number | undefined;
  code: string;
  message: string;
  term: number | undefined;
  invokeTime: number;
  time: number;
}

/** Connects one routing client with the options given (`transport`, `retriesMax: 0`) and the caller's own (seeds, token). */
export type Connect = (options: { transport: Transport; retriesMax: number }) => Promise<Client>;

interface Worker {
  id: number;
  client: Client;
  recorder: RecordingTransport;
}

export class Workload {
  readonly history = new History();
  readonly keys: string[];
  readonly acknowledgements: Acknowledgement[] = [];
  readonly errors = new Map<string, number>();
  private readonly options: typeof DEFAULTS & { transport?: () => Transport };
  private readonly counters: WorkloadCounts = { started: 0, reads: 0, readsOk: 0, writes: 0, acknowledged: 0, failed: 0, unknown: 0, retried: 0, writesFailed: 0 };
  private readonly workers: Worker[];
  private stopped = false;
  private ended = false;
  private directWrites = 0;
  private readonly done: Promise<void>;

  private constructor(workers: Worker[], options: Workload['options']) {
    this.workers = workers;
    this.options = options;
    this.keys = Array.from({ length: options.keys }, (_, i) => `${options.keyPrefix}${i}`);
    const deadline = Date.now() + options.durationMsMax;
    this.done = Promise.all(workers.map((w) => this.run(w, deadline))).then(() => {
      this.ended = true;
    });
  }

  /** Connects every worker's client, then starts them. */
  static async start(connect: Connect, options: WorkloadOptions = {}): Promise<Workload> {
    const resolved = { ...DEFAULTS, ...options };
    const workers = await Promise.all(Array.from({ length: resolved.workers }, async (_, id): Promise<Worker> => {
      const recorder = new RecordingTransport(makeTransport(resolved));
      return { id, recorder, client: await connect({ transport: recorder, retriesMax: 0 }) };
    }));
    return new Workload(workers, resolved);
  }

  counts(): WorkloadCounts {
    return { ...this.counters };
  }

  /** Completed requests so far (every outcome). */
  completed(): number {
    const c = this.counters;
    return c.reads + c.writes;
  }

  /** Waits until `completed` more requests finished, or `acknowledged` more writes were acknowledged, counted from now. */
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

  /** Asks every worker to stop after its current operation (a write after its retries); resolves when all have. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    for (const w of this.workers) w.client.close();
  }

  /** Reads every key once (no other load may run), then checks the whole history. */
  async check(connect: Connect, nemesis: NemesisLog = new NemesisLog()): Promise<WorkloadReport> {
    assert.ok(this.ended, 'workload: check() after stop()');
    const finalValues = await this.readFinalValues(connect);
    const lost = findLostWrites(this.history.events, finalValues);
    const linearizability = checkLinearizable(this.history.events, { stepsMax: this.options.stepsMax });
    const termConflicts = findTermConflicts(this.acknowledgements);
    const missing = unlabelled(this.acknowledgements);
    const c = this.counters;
    const summary =
      `operations ${c.reads + c.writes} (reads ${c.reads}, ${c.readsOk} ok; writes ${c.writes}: ${c.acknowledged} acknowledged, ${c.failed} failed, ${c.unknown} unknown` +
      `${this.options.writeRetryMsMax > 0 ? `; ${c.retried} retried, ${c.writesFailed} failed after retries` : ''}); ` +
      `lost ${lost.length}; ${linearizability.verdict} (${linearizability.keys} keys, ${linearizability.steps} steps); ` +
      `two nodes acknowledging in one term: ${termConflicts.length === 0 ? 'never' : termConflicts.length}; nemesis: ${nemesis.countsText()}`;
    const explain = () => {
      const keysToShow = new Set([...lost.map((l) => l.key), ...(linearizability.key === undefined ? [] : [linearizability.key])]);
      const parts = [summary, ...lost.map((l) => l.explanation), linearizability.ok ? '' : linearizability.explanation, ...termConflicts.map((t) => t.explanation)];
      if (missing.length > 0) parts.push(`${missing.length} acknowledgements without X-Shard or X-Term, e.g. op ${missing[0]!.id} from ${missing[0]!.node}`);
      for (const key of keysToShow) parts.push(`timeline of ${key}:\n${formatTimeline(this.history.events.filter((e) => e.op.key === key), nemesis.events)}`);
      return parts.filter(Boolean).join('\n');
    };
    return {
      counts: this.counts(), errors: new Map(this.errors), finalValues, lost, linearizability,
      acknowledgements: this.acknowledgements, termConflicts, unlabelled: missing, summary, explain,
    };
  }

  /**
   * One acks=all write of a workload key sent straight to `address` on `transport` (no routing,
   * no redirect followed), recorded like the workers' writes: in the History, and as an
   * acknowledgement if answered 204. For asking one node, e.g. a deposed leader, what it does.
   */
  async directWrite(transport: Transport, address: string, key: string, headers: Record<string, string> = {}): Promise<DirectAnswer> {
    assert.ok(this.keys.includes(key), `workload: ${key} is not one of its keys`);
    const value = `d-${++this.directWrites}`;
    const op = this.history.invoke('direct', { type: 'write', key, value });
    const invokeTime = this.history.events.at(-1)!.time;
    let res: TransportResponse;
    try {
      res = await transport.request(address, { method: 'PUT', path: `/kv/${percentEncode(new TextEncoder().encode(key))}?acks=all`, headers: { ...headers, 'Content-Type': 'application/octet-stream' }, body: new TextEncoder().encode(value) });
    } catch (error) {
      const code = this.noteError(new ClientError('UNAVAILABLE', (error as Error).message, { cause: error }));
      this.history.info(op, code);
      return { status: undefined, code, message: (error as Error).message, term: undefined, invokeTime, time: this.history.events.at(-1)!.time };
    }
    const term = Number(res.headers['x-term'] ?? NaN);
    const answer = { status: res.status, term: Number.isSafeInteger(term) ? term : undefined, invokeTime, message: '' };
    if (res.status === 204) {
      this.history.ok(op);
      const time = this.history.events.at(-1)!.time;
      this.acknowledgements.push({ id: op, key, value, node: address, shard: res.headers['x-shard'], term: answer.term, invokeTime, time });
      return { ...answer, code: 'ACKNOWLEDGED', time };
    }
    if (res.status === 307 || res.status === 308) {
      // Not followed: the node sent the write elsewhere without making it.
      const code = this.noteError(new ClientError('REDIRECTED', `redirected to ${res.headers['location']}`, { status: res.status }));
      this.history.fail(op, code);
      return { ...answer, code, message: `to ${res.headers['location']}`, time: this.history.events.at(-1)!.time };
    }
    let refusal: unknown;
    try {
      expectStatus(res, 204);
    } catch (error) {
      refusal = error;
    }
    const code = this.noteError(refusal);
    if (certainlyNotApplied(refusal)) this.history.fail(op, code);
    else this.history.info(op, code);
    return { ...answer, code, message: (refusal as Error).message, time: this.history.events.at(-1)!.time };
  }

  private async readFinalValues(connect: Connect): Promise<Map<string, Value>> {
    const client = await connect({ transport: makeTransport(this.options), retriesMax: 0 });
    const finalValues = new Map<string, Value>();
    try {
      for (const key of this.keys) {
        const deadline = Date.now() + FINAL_READ_WAIT_MS;
        for (let backoffMs = BACKOFF_MS_MIN; ; backoffMs = Math.min(this.options.backoffMsMax, backoffMs * 2)) {
          const id = this.history.invoke('final', { type: 'read', key });
          try {
            const value = await client.get(key);
            const text = value === undefined ? null : Buffer.from(value).toString('utf8');
            this.history.ok(id, text);
            finalValues.set(key, text);
            break;
          } catch (error) {
            this.history.fail(id, codeOf(error));
            if (Date.now() > deadline) throw new Error(`workload: the final read of ${key} failed for ${FINAL_READ_WAIT_MS} ms: ${codeOf(error)}`);
            await delay(backoffMs);
            await client.refreshTopology().catch(() => undefined);
          }
        }
      }
    } finally {
      client.close();
    }
    return finalValues;
  }

  private async run(worker: Worker, deadline: number): Promise<void> {
    const random = seededRandom(this.options.seed * 1000 + worker.id);
    while (!this.stopped && this.counters.started < this.options.opsMax && Date.now() < deadline) {
      const key = this.keys[Math.floor(random() * this.keys.length)]!;
      if (random() < this.options.readShare) {
        this.counters.started++;
        if (!(await this.read(worker, key))) await this.recover(worker, BACKOFF_MS_MIN);
      } else {
        await this.writeWithRetries(worker, key, `w${worker.id}-${this.counters.started + 1}`);
      }
    }
  }

  /** One write as the application sees it: attempts until one is acknowledged or the retry window closes. */
  private async writeWithRetries(worker: Worker, key: string, value: string): Promise<void> {
    const giveUpAt = Date.now() + this.options.writeRetryMsMax;
    let backoffMs = BACKOFF_MS_MIN;
    for (let attempt = 1; ; attempt++) {
      this.counters.started++;
      if (attempt > 1) this.counters.retried++;
      if (await this.write(worker, key, attempt === 1 ? value : `${value}.${attempt}`)) return;
      // A write once begun is carried through its retry window even past stop() or the bounds:
      // the application would not abandon it, and an abandoned write is not a failed one.
      const retry = Date.now() < giveUpAt;
      await this.recover(worker, backoffMs);
      if (!retry) break;
      backoffMs = Math.min(this.options.backoffMsMax, backoffMs * 2);
    }
    this.counters.writesFailed++;
  }

  /** After a failure: back off, then refresh the topology (a failed refresh keeps the old one). */
  private async recover(worker: Worker, backoffMs: number): Promise<void> {
    await delay(backoffMs);
    await worker.client.refreshTopology().catch(() => undefined);
  }

  private async read(worker: Worker, key: string): Promise<boolean> {
    const op = this.history.invoke(worker.id, { type: 'read', key });
    try {
      const value = await worker.client.get(key);
      this.history.ok(op, value === undefined ? null : Buffer.from(value).toString('utf8'));
      this.counters.readsOk++;
      return true;
    } catch (error) {
      this.history.fail(op, this.noteError(error));
      return false;
    } finally {
      this.counters.reads++;
    }
  }

  private async write(worker: Worker, key: string, value: string): Promise<boolean> {
    worker.recorder.forget();
    const op = this.history.invoke(worker.id, { type: 'write', key, value });
    const invokeTime = this.history.events.at(-1)!.time;
    let failure: { error: unknown } | undefined;
    try {
      await worker.client.put(key, value, { acks: 'all' });
      this.history.ok(op);
    } catch (error) {
      failure = { error };
    }
    this.counters.writes++;
    if (!failure) {
      const answer = worker.recorder.lastWrite;
      assert.ok(answer, 'workload: a write was acknowledged, but the recording transport saw no answer to it');
      this.acknowledgements.push({ id: op, key, value, node: answer.address, shard: answer.shard, term: answer.term, invokeTime, time: this.history.events.at(-1)!.time });
      this.counters.acknowledged++;
      return true;
    }
    const code = this.noteError(failure.error);
    if (certainlyNotApplied(failure.error)) {
      this.history.fail(op, code);
      this.counters.failed++;
    } else {
      this.history.info(op, code);
      this.counters.unknown++;
    }
    return false;
  }

  private noteError(error: unknown): string {
    const code = codeOf(error);
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    return code;
  }
}

function makeTransport(options: { requestTimeoutMs: number; transport?: () => Transport }): Transport {
  return options.transport?.() ?? new HttpTransport({ requestTimeoutMs: options.requestTimeoutMs, responseBytesMax: RESPONSE_BYTES_MAX, socketsPerNodeMax: 4 });
}
