/**
 * One acks=all PUT recorded in a History (test/checker) the way partition tests need it: sent
 * to exactly one node with raw HTTP (a 307 is not followed: it means "not written here"), and,
 * for each 204, who answered and under which term (`X-Term`), so a test can check that no term
 * had two nodes acknowledging writes.
 *
 * Outcomes (docs/failover.md): 204 is ok; a 307, a 4xx, NOT_ENOUGH_REPLICAS and LEASE_EXPIRED
 * (both answered before the write starts) are fail, certainly not applied; anything else
 * (UNCONFIRMED, NOT_LEADER, OVERLOADED, a connection error, a timeout) is info, unknown.
 */
import http from 'node:http';
import { History } from '../checker/index.ts';

const REQUEST_TIMEOUT_MS = 10_000;
const REFUSED_BEFORE_WRITING: ReadonlySet<string> = new Set(['NOT_ENOUGH_REPLICAS', 'LEASE_EXPIRED']);

/** A write acknowledged (204) by `node` at `term`, sent at `invokedAt` (performance.now()). */
export interface Ack {
  node: string;
  term: number;
  seq: number;
  invokedAt: number;
}

export interface PutOutcome {
  /** Set when the write was acknowledged. */
  ack?: Ack;
  /** The error code (or the status as text) when it was not. */
  code?: string;
}

/** PUTs `key` = `key` with acks=all at `node`, records it in `history` as `process`, and returns what happened. */
export async function recordedPut(history: History, process: number, node: string, key: string): Promise<PutOutcome> {
  const invokedAt = performance.now();
  const op = history.invoke(process, { type: 'write', key, value: key });
  let res: { status: number; code?: string; term: number; seq: number };
  try {
    res = await put(node, key, key);
  } catch (error) {
    history.info(op, (error as Error).message);
    return { code: 'CONNECTION' };
  }
  if (res.status === 204) {
    history.ok(op);
    return { ack: { node, term: res.term, seq: res.seq, invokedAt } };
  }
  const code = res.code ?? String(res.status);
  if (res.status === 307 || res.status < 500 || REFUSED_BEFORE_WRITING.has(code)) history.fail(op, code);
  else history.info(op, code);
  return { code };
}

/** For each term, the nodes that acknowledged a write under it. */
export function acknowledgingNodesByTerm(acks: readonly Ack[]): Map<number, Set<string>> {
  const byTerm = new Map<number, Set<string>>();
  for (const a of acks) byTerm.set(a.term, (byTerm.get(a.term) ?? new Set()).add(a.node));
  return byTerm;
}

function put(address: string, key: string, value: string): Promise<{ status: number; code?: string; term: number; seq: number }> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: address.slice(0, colon), port: Number(address.slice(colon + 1)), method: 'PUT',
      path: `/kv/${encodeURIComponent(key)}?acks=all`, agent: false, timeout: REQUEST_TIMEOUT_MS,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString()) as { code?: string }).code : undefined;
        } catch {
          code = undefined; // not JSON: the status says enough
        }
        resolve({ status: res.statusCode ?? 0, code, term: Number(res.headers['x-term'] ?? 0), seq: Number(res.headers['x-seq'] ?? 0) });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(value);
  });
}

export interface TargetedLoadOptions {
  workers: number;
  /** Where every worker writes at first; `retarget` moves them. */
  target: string;
  writesMax: number;
  durationMsMax: number;
  /** Key prefix. */
  prefix: string;
}

/**
 * A bounded acks=all load for partition tests: `workers` loops of `recordedPut`, each to the
 * node the test currently points it at (a worker moves to its new target with its next write).
 * Records the history, every acknowledgement with its term, and the error codes per node.
 */
export class TargetedLoad {
  readonly history = new History();
  readonly acks: Ack[] = [];
  /** Per node, how many writes it answered with each error code. */
  readonly refusals = new Map<string, Map<string, number>>();
  readonly done: Promise<void>;
  private readonly targets: string[];
  private stopped = false;
  private started = 0;

  constructor(private readonly o: TargetedLoadOptions) {
    this.targets = Array.from({ length: o.workers }, () => o.target);
    const deadline = Date.now() + o.durationMsMax;
    this.done = Promise.all(this.targets.map((_, id) => this.worker(id, deadline))).then(() => undefined);
  }

  /** Points the workers for which `pick(id)` is true at `node`. */
  retarget(node: string, pick: (worker: number) => boolean = () => true): void {
    for (let id = 0; id < this.targets.length; id++) if (pick(id)) this.targets[id] = node;
  }

  ackedBy(node: string): number {
    return this.acks.filter((a) => a.node === node).length;
  }

  /** How many writes `node` answered with `code`. */
  refusedBy(node: string, code: string): number {
    return this.refusals.get(node)?.get(code) ?? 0;
  }

  /** Stops every worker after its current write; resolves when they have. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  private async worker(id: number, deadline: number): Promise<void> {
    for (let i = 0; !this.stopped && this.started < this.o.writesMax && Date.now() < deadline; i++) {
      this.started++;
      const node = this.targets[id]!;
      const outcome = await recordedPut(this.history, id, node, `${this.o.prefix}-w${id}-${String(i).padStart(6, '0')}`);
      if (outcome.ack) this.acks.push(outcome.ack);
      else {
        const codes = this.refusals.get(node) ?? new Map<string, number>();
        codes.set(outcome.code!, (codes.get(outcome.code!) ?? 0) + 1);
        this.refusals.set(node, codes);
      }
    }
  }
}
