/**
 * Times calls: per-call latency into an HDR histogram (recorded in nanoseconds, 3 significant
 * digits, reported in microseconds), operation counts, wall time, and a progress line on
 * stderr during long runs. performance.now() itself costs some 40 ns a call, on every engine.
 */
import * as hdr from 'hdr-histogram-js';

const PROGRESS_EVERY_MS = 2000;
/** A run with no call finished for this long says so on stderr (an engine stuck in I/O). */
const STALL_REPORT_MS = 15_000;

/** Microseconds. */
export interface LatencySummary {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export class Recorder {
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3 });
  ops = 0;
  calls = 0;
  private readonly started = performance.now();
  private nextProgressAt = this.started + PROGRESS_EVERY_MS;
  private lastRecordAt = this.started;
  private readonly watchdog = setInterval(() => this.reportStall(), STALL_REPORT_MS).unref();

  /** `label`: what the progress line calls this run; `opsTotal`: how many ops it will make. */
  constructor(
    private readonly label: string,
    private readonly opsTotal: number,
  ) {}

  /** Records one call that began at `startedMs` (performance.now()) and did `ops` operations. */
  record(startedMs: number, ops: number): void {
    const now = performance.now();
    this.lastRecordAt = now;
    this.histogram.recordValue(Math.max(1, Math.round((now - startedMs) * 1e6)));
    this.ops += ops;
    this.calls++;
    if (now >= this.nextProgressAt) this.progress(now);
  }

  /** Wall seconds since the recorder was made. */
  seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  latency(): LatencySummary {
    const h = this.histogram;
    const us = (ns: number) => ns / 1000;
    return { p50: us(h.getValueAtPercentile(50)), p99: us(h.getValueAtPercentile(99)), p999: us(h.getValueAtPercentile(99.9)), max: us(h.maxValue) };
  }

  close(): void {
    clearInterval(this.watchdog);
    this.histogram.destroy();
  }

  private reportStall(): void {
    const idleMs = performance.now() - this.lastRecordAt;
    if (idleMs >= STALL_REPORT_MS) process.stderr.write(`  … ${this.label}: no call has finished for ${(idleMs / 1000).toFixed(0)} s\n`);
  }

  private progress(now: number): void {
    this.nextProgressAt = now + PROGRESS_EVERY_MS;
    const seconds = (now - this.started) / 1000;
    const percent = this.opsTotal > 0 ? ` ${((100 * this.ops) / this.opsTotal).toFixed(0).padStart(3)}%` : '';
    process.stderr.write(`  … ${this.label}: ${this.ops.toLocaleString('en-US')} ops${percent}, ${Math.round(this.ops / seconds).toLocaleString('en-US')} ops/s\n`);
  }
}
