/**
 * Counts and times the requests of one run: latency of each successful request into an HDR
 * histogram (microseconds, 3 significant digits), failures by status or error, and a
 * progress line on stderr every PROGRESS_INTERVAL_MS.
 */
import * as hdr from 'hdr-histogram-js';
import { PROGRESS_INTERVAL_MS } from './options.ts';

/** Microseconds. */
export interface LatencySummary {
  p50: number;
  p99: number;
  /** NaN where the load generator does not report it (redis-benchmark). */
  p999: number;
  max: number;
}

/** CPU seconds a run cost, by kind of process (`loadgen` is the benchmark itself, with redis-benchmark when it runs one). */
export type CpuSeconds = Partial<Record<'leader' | 'replica' | 'ceiling' | 'redis' | 'loadgen', number>>;

export interface RunFigures {
  ok: number;
  failed: number;
  /** Failures by status (`"503"`) or error code (`"ECONNRESET"`), for the report. */
  failures: Record<string, number>;
  seconds: number;
  opsPerSec: number;
  latencyUs: LatencySummary;
  /** Filled in by the caller where /proc can be read. */
  cpuSeconds?: CpuSeconds;
  /** Cores that processes other than the benchmark's kept busy during the run: another job on the machine skews it. */
  otherCores?: number;
  /** Share of the run each kind of process's event loop spent waiting for a CPU (mean over the processes). */
  cpuWaitShare?: Partial<Record<'leader' | 'replica' | 'ceiling' | 'redis', number>>;
}

const LATENCY_US_MAX = 60_000_000;

export class Recorder {
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3 });
  ok = 0;
  failed = 0;
  private readonly failures: Record<string, number> = {};
  private startedMs = performance.now();
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(private readonly label: string) {}

  /** Starts the clock and the progress line. */
  start(): void {
    this.startedMs = performance.now();
    this.progressTimer = setInterval(() => this.progress(), PROGRESS_INTERVAL_MS);
    this.progressTimer.unref();
  }

  success(latencyMs: number): void {
    this.ok++;
    this.histogram.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round(latencyMs * 1000))));
  }

  failure(reason: string): void {
    this.failed++;
    this.failures[reason] = (this.failures[reason] ?? 0) + 1;
  }

  get count(): number {
    return this.ok + this.failed;
  }

  /** Stops the clock and returns the figures; the recorder is spent afterwards. */
  finish(): RunFigures {
    clearInterval(this.progressTimer);
    const seconds = (performance.now() - this.startedMs) / 1000;
    const h = this.histogram;
    const us = (p: number) => (this.ok === 0 ? 0 : h.getValueAtPercentile(p));
    const figures = {
      ok: this.ok,
      failed: this.failed,
      failures: { ...this.failures },
      seconds,
      opsPerSec: this.ok / seconds,
      latencyUs: { p50: us(50), p99: us(99), p999: us(99.9), max: this.ok === 0 ? 0 : h.maxValue },
    };
    h.destroy();
    return figures;
  }

  private progress(): void {
    const seconds = (performance.now() - this.startedMs) / 1000;
    process.stderr.write(`  … ${this.label}: ${this.ok.toLocaleString('en-US')} ok, ${this.failed} failed, ${Math.round(this.ok / seconds).toLocaleString('en-US')} ops/s\n`);
  }
}
