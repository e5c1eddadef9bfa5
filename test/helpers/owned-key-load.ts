/**
 * A bounded read-write load whose every answer can be checked: each worker owns its keys (no
 * other writer touches them), overwrites them with numbered versions and reads them back. A
 * read must return exactly the last version the worker wrote and had acknowledged, or one of
 * the attempts made since whose answer was an error (its outcome is unknown: it may have been
 * applied, even if a later attempt was not): anything else is a lost write or a stale read,
 * recorded in `wrong`. Writes go through the client library, which follows redirects
 * and retries MIGRATING, so the caller of a migration should see no error at all (`errors`).
 */
import type { Client } from '../../net/index.ts';

export interface OwnedKeyLoadOptions {
  client: Client;
  workers: number;
  keysPerWorker: number;
  /** Fraction of operations that are writes (the rest are reads). */
  writeFraction: number;
  opsMax: number;
  durationMsMax: number;
  prefix: string;
}

export interface OwnedKeyLoad {
  ops(): number;
  /** Operations answered with an error, by code. */
  errors: Map<string, number>;
  /** Reads that contradicted an acknowledged write, described one per line. */
  wrong: string[];
  /** The last acknowledged value of each key written. */
  acknowledged: Map<string, string>;
  /** Per key, the values of the attempts since its last acknowledged write that failed (each may or may not have been applied). */
  unconfirmed: Map<string, string[]>;
  stop(): Promise<void>;
}

export function startOwnedKeyLoad(o: OwnedKeyLoadOptions): OwnedKeyLoad {
  const deadline = Date.now() + o.durationMsMax;
  const errors = new Map<string, number>();
  const wrong: string[] = [];
  const acknowledged = new Map<string, string>();
  const unconfirmed = new Map<string, string[]>();
  let ops = 0;
  let stopped = false;
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const worker = async (id: number) => {
    let version = 0;
    while (!stopped && ops < o.opsMax && Date.now() < deadline) {
      ops++;
      const key = `${o.prefix}:${id}:${Math.floor(random() * o.keysPerWorker)}`;
      try {
        if (random() < o.writeFraction) {
          const value = `${key}@${++version}`;
          try {
            await o.client.put(key, value, { acks: 'all' });
          } catch (error) {
            unconfirmed.set(key, [...(unconfirmed.get(key) ?? []), value]);
            throw error;
          }
          acknowledged.set(key, value);
          unconfirmed.delete(key);
        } else {
          const got = await o.client.get(key);
          const text = got === undefined ? undefined : Buffer.from(got).toString();
          const expected = acknowledged.get(key);
          if (text !== expected && !(text !== undefined && unconfirmed.get(key)?.includes(text))) {
            wrong.push(`${key}: read ${text ?? 'nothing'}, acknowledged ${expected ?? 'nothing'}${unconfirmed.has(key) ? `, unconfirmed ${unconfirmed.get(key)!.join(' ')}` : ''}`);
          }
        }
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'ERROR';
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
    }
  };
  const done = Promise.all(Array.from({ length: o.workers }, (_, i) => worker(i)));
  return {
    ops: () => ops,
    errors,
    wrong,
    acknowledged,
    unconfirmed,
    async stop() {
      stopped = true;
      await done;
    },
  };
}
