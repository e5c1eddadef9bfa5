/**
 * A bounded write load for failover tests: `workers` clients writing unique keys and values
 * to one shard's leader in a loop, each write recorded in a History (test/checker) as ok,
 * fail (certainly not applied) or info (outcome unknown). A worker stops at its first
 * connection failure (the leader is gone) or when the load's count or time bound is reached.
 */
import { History } from '../checker/index.ts';
import { ClientError, type Client } from '../../net/index.ts';

export interface LoadOptions {
  client: Client;
  workers: number;
  /** Writes in all, at most. */
  writesMax: number;
  /** Time the load may run, at most. */
  durationMsMax: number;
  acks: 1 | 'all';
  /** Key prefix, so two loads do not share keys. */
  prefix: string;
}

export interface Load {
  history: History;
  /** Writes acknowledged so far. */
  acknowledged(): number;
  /** Writes answered with an error so far (refused or of unknown outcome). */
  unacknowledged(): number;
  /** Writes answered with the error `code` so far. */
  answered(code: string): number;
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  /** Asks every worker to stop after its current write; resolves when they have. */
  stop(): Promise<void>;
}

/**
 * Errors that prove the write was not made: the node refused it before writing (LEASE_EXPIRED is
 * only answered before a write starts; one whose lease lapsed after it was logged is
 * UNCONFIRMED). OVERLOADED is not among them: a leader also answers it to a write already in
 * its log when too many wait for the in-sync set.
 */
export const NOT_APPLIED: ReadonlySet<string> = new Set(['NOT_ENOUGH_REPLICAS', 'LEASE_EXPIRED', 'SHUTTING_DOWN', 'WRITE_STALLED', 'DB_CLOSED']);

export function startWriteLoad(options: LoadOptions): Load {
  const history = new History();
  const deadline = Date.now() + options.durationMsMax;
  let started = 0;
  let acknowledged = 0;
  let unacknowledged = 0;
  const byCode = new Map<string, number>();
  let stopped = false;
  const worker = async (id: number) => {
    for (let i = 0; !stopped && started < options.writesMax && Date.now() < deadline; i++) {
      started++;
      const key = `${options.prefix}-w${id}-${String(i).padStart(6, '0')}`;
      const value = `${key}-v`;
      const op = history.invoke(id, { type: 'write', key, value });
      try {
        await options.client.put(key, value, { acks: options.acks });
        history.ok(op);
        acknowledged++;
      } catch (error) {
        unacknowledged++;
        const code = (error as { code?: string }).code ?? 'ERROR';
        byCode.set(code, (byCode.get(code) ?? 0) + 1);
        const answered = error instanceof ClientError && error.status !== undefined;
        if (answered && (NOT_APPLIED.has(code) || error.status! < 500)) history.fail(op, code);
        else history.info(op, code);
        if (!answered) return;
      }
    }
  };
  const done = Promise.all(Array.from({ length: options.workers }, (_, i) => worker(i))).then(() => undefined);
  const stop = () => {
    stopped = true;
    return done;
  };
  return { history, acknowledged: () => acknowledged, unacknowledged: () => unacknowledged, answered: (code) => byCode.get(code) ?? 0, done, stop };
}
