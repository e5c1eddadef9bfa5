/**
 * The resharding benchmark's load: `connections` workers over keys loaded beforehand, 90%
 * reads and 10% acks=all writes through the client library (which follows redirects and
 * retries the 503s that promise nothing was done). Every answer is checked: each worker owns
 * its keys (key i belongs to worker i mod connections), so a read must return exactly the last
 * value the worker had acknowledged, or one it wrote with an error answer (possibly applied).
 *
 * It records operations per second (a timeline) and the latency of every write, tagged with
 * the key's index, so the caller can say how long writes to a moving range waited.
 *
 * Bounded: it stops when asked, after `opsMax` operations, or after `durationMsMax`.
 */
import type { Client } from '../../net/index.ts';
import { keyOf, valueOf } from './keys.ts';

export interface LoadOptions {
  client: Client;
  connections: number;
  keys: number;
  valueBytes: number;
  writeFraction: number;
  opsMax: number;
  durationMsMax: number;
  seed: number;
}

export interface WriteSample {
  /** performance.now() when the write was sent. */
  atMs: number;
  latencyMs: number;
  key: number;
}

export class CheckedLoad {
  /** Operations completed in each second since the start (index = second). */
  readonly perSecond: number[] = [];
  readonly writes: WriteSample[] = [];
  readonly errors = new Map<string, number>();
  readonly wrong: string[] = [];
  /** The last acknowledged version of each key written (absent: the loaded value, version 0). */
  readonly acknowledged = new Map<number, number>();
  /** Versions whose write answered an error: they may have been applied. */
  readonly uncertain = new Map<number, Set<number>>();
  ops = 0;
  acked = 0;
  private stopped = false;
  private readonly startMs = performance.now();
  private readonly done: Promise<void>;

  constructor(private readonly o: LoadOptions) {
    this.done = Promise.all(Array.from({ length: o.connections }, (_, i) => this.worker(i))).then(() => undefined);
  }

  /** Seconds since the load started. */
  elapsedSeconds(): number {
    return (performance.now() - this.startMs) / 1000;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Whether `value` read for `key` is one the key may hold. */
  allowed(key: number, version: number | undefined): boolean {
    const last = this.acknowledged.get(key) ?? 0;
    if (version === last) return true;
    return version !== undefined && version > last && (this.uncertain.get(key)?.has(version) ?? false);
  }

  private async worker(id: number): Promise<void> {
    let seed = (this.o.seed ^ (id * 0x9e3779b1)) >>> 0;
    const random = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 0x100000000;
    };
    const owned = Math.floor((this.o.keys - 1 - id) / this.o.connections) + 1;
    let version = 0;
    const deadline = this.startMs + this.o.durationMsMax;
    while (!this.stopped && this.ops < this.o.opsMax && performance.now() < deadline) {
      const key = id + this.o.connections * Math.floor(random() * owned);
      const write = random() < this.o.writeFraction;
      const started = performance.now();
      try {
        if (write) {
          version++;
          await this.o.client.put(keyOf(key), valueOf(key, version, this.o.valueBytes), { acks: 'all' });
          this.acknowledged.set(key, version);
          this.acked++;
          this.writes.push({ atMs: started, latencyMs: performance.now() - started, key });
        } else {
          const value = await this.o.client.get(keyOf(key));
          const read = value === undefined ? undefined : versionOf(value);
          if (!this.allowed(key, read)) this.wrong.push(`key ${key}: read version ${read ?? 'none'}, acknowledged ${this.acknowledged.get(key) ?? 0}`);
        }
      } catch (error) {
        if (write) {
          let set = this.uncertain.get(key);
          if (!set) this.uncertain.set(key, (set = new Set()));
          set.add(version);
        }
        const code = (error as { code?: string }).code ?? 'ERROR';
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
      }
      this.ops++;
      const second = Math.floor((performance.now() - this.startMs) / 1000);
      this.perSecond[second] = (this.perSecond[second] ?? 0) + 1;
    }
  }
}

/** The version a value carries (valueOf writes it first). */
export function versionOf(value: Uint8Array): number {
  const text = Buffer.from(value.subarray(0, 16)).toString('latin1');
  return Number.parseInt(text.slice(0, text.indexOf(':')), 10);
}
