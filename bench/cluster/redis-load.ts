/**
 * Load on Redis with its own generator, redis-benchmark (C, one thread): SET or GET of
 * `-r keys` random keys (`key:` and 12 digits, the keys redis-server.ts preloads), `-d` bytes
 * per value, `-c` connections, `-P` commands pipelined per connection. Its CSV line gives
 * commands per second and latency percentiles in milliseconds (p50, p99; not p99.9).
 *
 * redis-benchmark runs a number of requests, not a time, so each run is sized from the rate of
 * the run before it (`RedisLoad`): the warm-up is also the calibration. Bounded: at most
 * OPS_PER_SECOND_MAX × seconds requests, and killed after RUN_TIMEOUT_FACTOR × its expected
 * time (plus a margin), which fails the benchmark rather than hanging it.
 *
 * Its CPU time is counted as the load generator's by ProcessGroup.cpuSeconds (this process's
 * reaped children), so CPU per operation compares like with like. The process is killed if the
 * benchmark exits while it runs.
 */
import { spawn } from 'node:child_process';
import { OPS_PER_SECOND_MAX } from './options.ts';
import type { RunFigures } from './recorder.ts';

/** Rate assumed before anything was measured, per pipelined command slot (about what one 2-core VM does). */
const GUESS_OPS_PER_SECOND = 40_000;
/** The fewest requests of a run, so that even a very short one measures something. */
const REQUESTS_MIN = 2_000;
const RUN_TIMEOUT_FACTOR = 4;
const RUN_TIMEOUT_MARGIN_MS = 30_000;
const OUTPUT_BYTES_MAX = 64 * 1024;

export interface RedisRun {
  benchmark: string;
  port: number;
  test: 'set' | 'get';
  connections: number;
  valueBytes: number;
  keys: number;
  /** Commands in flight per connection (`-P`); 1 is no pipelining. */
  pipeline: number;
}

/** One CSV line of redis-benchmark 6/7: test, rps, avg, min, p50, p95, p99, max (ms). */
export interface RedisCsvLine {
  test: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The data lines of `redis-benchmark --csv` output (the header is skipped). */
export function parseRedisCsv(text: string): RedisCsvLine[] {
  const out: RedisCsvLine[] = [];
  for (const line of text.split('\n')) {
    const cells = line.trim().split(',').map((c) => c.replace(/^"|"$/g, ''));
    if (cells.length < 8 || cells[0] === 'test') continue;
    const [test, rps, , , p50, , p99, max] = cells;
    const numbers = [rps, p50, p99, max].map(Number);
    if (numbers.some((n) => !Number.isFinite(n))) throw new Error(`redis-benchmark: a CSV line with a value that is not a number: ${JSON.stringify(line)}`);
    out.push({ test: test!, rps: numbers[0]!, p50Ms: numbers[1]!, p99Ms: numbers[2]!, maxMs: numbers[3]! });
  }
  return out;
}

/** The requests to send for a run of `seconds` at `opsPerSecond`, within the bounds. */
export function requestsFor(seconds: number, opsPerSecond: number): number {
  return Math.max(REQUESTS_MIN, Math.min(Math.ceil(seconds * OPS_PER_SECOND_MAX), Math.round(seconds * opsPerSecond)));
}

/** Runs of one redis-benchmark configuration, each sized by the rate of the one before. */
export class RedisLoad {
  private opsPerSecond: number;

  constructor(private readonly run: RedisRun) {
    this.opsPerSecond = GUESS_OPS_PER_SECOND * Math.min(run.pipeline, 8);
  }

  /** The command line, for the report. */
  get commandLine(): string {
    const { test, connections, valueBytes, keys, pipeline } = this.run;
    return `redis-benchmark -t ${test} -c ${connections} -d ${valueBytes} -r ${keys}${pipeline > 1 ? ` -P ${pipeline}` : ''}`;
  }

  async load(seconds: number): Promise<RunFigures> {
    const requests = requestsFor(seconds, this.opsPerSecond);
    const started = performance.now();
    const output = await runProgram(this.run.benchmark, this.args(requests), Math.round(RUN_TIMEOUT_FACTOR * 1000 * (requests / this.opsPerSecond) + RUN_TIMEOUT_MARGIN_MS));
    const wallSeconds = (performance.now() - started) / 1000;
    const line = parseRedisCsv(output).find((l) => l.test.toLowerCase() === this.run.test);
    if (!line) throw new Error(`redis-benchmark printed no ${this.run.test.toUpperCase()} line:\n${output}`);
    this.opsPerSecond = line.rps;
    return {
      ok: requests,
      failed: 0,
      failures: {},
      seconds: wallSeconds,
      opsPerSec: line.rps,
      latencyUs: { p50: line.p50Ms * 1000, p99: line.p99Ms * 1000, p999: Number.NaN, max: line.maxMs * 1000 },
    };
  }

  private args(requests: number): string[] {
    const { port, test, connections, valueBytes, keys, pipeline } = this.run;
    return ['-h', '127.0.0.1', '-p', String(port), '-t', test, '-c', String(connections), '-d', String(valueBytes), '-r', String(keys), '-P', String(pipeline), '-n', String(requests), '--csv'];
  }
}

/** Runs `command args` to completion and resolves to its stdout; rejects on a non-zero exit or after `timeoutMs`. */
function runProgram(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    // If the benchmark exits mid-run (Ctrl-C, an error elsewhere), the generator goes with it.
    const killAtExit = () => child.kill('SIGKILL');
    process.once('exit', killAtExit);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout = (stdout + chunk).slice(-OUTPUT_BYTES_MAX)));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-OUTPUT_BYTES_MAX)));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      process.off('exit', killAtExit);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} ${signal === 'SIGKILL' ? `did not finish within ${Math.round(timeoutMs / 1000)} s` : `exited with ${code ?? signal}`}:\n${stderr}${stdout}`));
    });
  });
}
