/**
 * Every child process the benchmark starts (cluster nodes, bare ceiling servers, redis-server),
 * so that all of them are stopped at the end, on Ctrl-C, and on any error: `stopAll` sends
 * SIGTERM, waits up to STOP_WAIT_MS, then SIGKILLs the rest; a last-resort 'exit' hook SIGKILLs
 * whatever is still alive if the benchmark itself dies. Each child's stderr is kept (the
 * last STDERR_BYTES_MAX bytes) to show when it fails, and its CPU time can be read (Linux
 * /proc), so a run can say how much CPU each kind of process spent per request.
 *
 * Processes another owner starts and stops (the host harness's nodes) can be watched: they
 * count in the CPU figures and in `failures()`, but `stopAll` leaves them to their owner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

const STOP_WAIT_MS = 10_000;
/** Nine processes starting at once on a shared 2-core machine: one node alone took 7 s at a load average of 40. */
const HEALTHY_WAIT_MS = 90_000;
const POLL_MS = 50;
const STDERR_BYTES_MAX = 16 * 1024;
/** /proc/<pid>/stat counts CPU time in clock ticks; 100 per second on Linux everywhere that matters. */
const CLOCK_TICKS_PER_SECOND = 100;

/** What a child is, for CPU accounting. */
export type Role = 'leader' | 'replica' | 'ceiling' | 'redis';

/** What the group reads of a process, whoever started it. */
interface Member {
  readonly name: string;
  readonly role: Role;
  readonly running: boolean;
  readonly stderr: string;
  cpuSeconds(): number | undefined;
  waitSeconds(): number | undefined;
}

export class Child implements Member {
  private stderrText = '';
  readonly exited: Promise<number | null>;

  constructor(readonly name: string, readonly role: Role, readonly process: ChildProcess) {
    process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrText = (this.stderrText + chunk).slice(-STDERR_BYTES_MAX);
    });
    this.exited = new Promise((resolve) => process.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /**
   * Seconds the main thread (the event loop) spent runnable but waiting for a CPU, from
   * /proc/<pid>/schedstat; undefined where it is not there. On a machine with more busy
   * processes than cores this is where tail latency comes from.
   */
  waitSeconds(): number | undefined {
    return waitSecondsOf(this.process.pid);
  }

  /** User plus system CPU seconds so far; undefined where /proc is not there. */
  cpuSeconds(): number | undefined {
    return cpuSecondsOf(this.process.pid);
  }
}

/** A process someone else started and stops (the host harness's node processes). */
export interface WatchedSource {
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly stderr: string;
}

class Watched implements Member {
  constructor(readonly name: string, readonly role: Role, private readonly source: WatchedSource) {}

  get running(): boolean {
    return this.source.running;
  }

  get stderr(): string {
    return this.source.stderr;
  }

  cpuSeconds(): number | undefined {
    return this.source.pid === undefined ? undefined : cpuSecondsOf(this.source.pid);
  }

  waitSeconds(): number | undefined {
    return this.source.pid === undefined ? undefined : waitSecondsOf(this.source.pid);
  }
}

/** Seconds `pid`'s main thread was runnable but waited for a CPU, from /proc/<pid>/schedstat. */
function waitSecondsOf(pid: number | undefined): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return undefined;
  }
}

/** `pid`'s /proc/<pid>/stat fields from the state on (field 3 of proc(5) is index 0). */
function statFields(pid: number | 'self' | undefined): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User plus system CPU seconds of `pid` so far (utime, stime); undefined where /proc is not there. */
function cpuSecondsOf(pid: number | undefined): number | undefined {
  const fields = statFields(pid);
  return fields && (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU seconds of this process's children that have exited and been waited for (cutime, cstime):
 * during a run, the tools the load generator runs to completion, such as redis-benchmark.
 */
function reapedChildrenCpuSeconds(): number {
  const fields = statFields('self');
  return fields ? (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND : 0;
}

/** CPU seconds by role, plus `loadgen`: this process (the load generator). */
export type { CpuSeconds } from './recorder.ts';
import type { CpuSeconds } from './recorder.ts';

export class ProcessGroup {
  /** Processes this group started and stops. */
  private readonly children: Child[] = [];
  /** Every process it reads: its children and the watched ones. */
  private readonly members: Member[] = [];
  private stopping: Promise<void> | undefined;

  constructor() {
    // If the benchmark exits without stopAll (a crash), take the children with it.
    process.once('exit', () => {
      for (const c of this.children) if (c.running) c.process.kill('SIGKILL');
    });
  }

  /** Starts `node [nodeArgs] script args` with stdout ignored and stderr kept. */
  spawn(name: string, role: Role, nodeArgs: string[], script: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
    return this.spawnProgram(name, role, process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], env);
  }

  /** Starts `command args` with stdout ignored and stderr kept. */
  spawnProgram(name: string, role: Role, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
    if (this.stopping) throw new Error(`cannot start ${name}: the benchmark is stopping`);
    return this.adopt(name, role, spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } }));
  }

  /**
   * Takes a process started some other way (inside a network namespace) into the group, to be
   * stopped with the rest. REQUIRES: `started` is the program itself, with stderr piped.
   */
  adopt(name: string, role: Role, started: ChildProcess): Child {
    if (this.stopping) {
      started.kill('SIGKILL');
      throw new Error(`cannot start ${name}: the benchmark is stopping`);
    }
    const child = new Child(name, role, started);
    this.children.push(child);
    this.members.push(child);
    return child;
  }

  /** Counts a process another owner starts and stops in the CPU figures and in `failures()`. */
  watch(name: string, role: Role, source: WatchedSource): void {
    this.members.push(new Watched(name, role, source));
  }

  /** Seconds the children's event loops waited for a CPU so far, summed by role. */
  waitSeconds(): Partial<Record<Role, number>> {
    const out: Partial<Record<Role, number>> = {};
    for (const c of this.members) {
      const seconds = c.running ? c.waitSeconds() : undefined;
      if (seconds !== undefined) out[c.role] = (out[c.role] ?? 0) + seconds;
    }
    return out;
  }

  /** Running children of `role`. */
  count(role: Role): number {
    return this.members.filter((c) => c.role === role && c.running).length;
  }

  /** CPU seconds spent so far, summed by role; `loadgen` is this process and the children it ran to completion. */
  cpuSeconds(): CpuSeconds {
    const usage = process.cpuUsage();
    const out: CpuSeconds = { loadgen: (usage.user + usage.system) / 1e6 + reapedChildrenCpuSeconds() };
    for (const c of this.members) {
      const seconds = c.running ? c.cpuSeconds() : undefined;
      if (seconds !== undefined) out[c.role] = (out[c.role] ?? 0) + seconds;
    }
    return out;
  }

  /**
   * Waits until the children together use less than `coresMax` of CPU over `windowMs`, or
   * `timeoutMs` passed; returns whether they went quiet. Background work (a flush, a compaction,
   * a replica catching up) left over from one run would otherwise slow the next, whichever
   * side it measures.
   */
  async waitQuiet(coresMax: number, windowMs: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const childSeconds = () => Object.entries(this.cpuSeconds()).reduce((sum, [role, s]) => sum + (role === 'loadgen' ? 0 : s), 0);
    let before = childSeconds();
    while (Date.now() < deadline) {
      await delay(windowMs);
      const after = childSeconds();
      if (after - before < (coresMax * windowMs) / 1000) return true;
      before = after;
    }
    return false;
  }

  /** Children that exited while they should be running, with their stderr. */
  failures(): string[] {
    if (this.stopping) return [];
    return this.members.filter((c) => !c.running).map((c) => `${c.name} exited${c instanceof Child ? ` with ${c.process.exitCode ?? c.process.signalCode}` : ''}:\n${c.stderr}`);
  }

  /** SIGTERM to every child, SIGKILL to those still running after STOP_WAIT_MS; idempotent. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of this.children) if (c.running) c.process.kill('SIGTERM');
      const all = Promise.all(this.children.map((c) => c.exited));
      const late = await Promise.race([all.then(() => false), delay(STOP_WAIT_MS, true, { ref: false })]);
      if (late) for (const c of this.children) if (c.running) c.process.kill('SIGKILL');
      await all;
    })();
    return this.stopping;
  }
}

/** Busy CPU seconds of the whole machine so far (every process), from /proc/stat; undefined elsewhere. */
export function machineBusySeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    const busy = fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]! + (fields[7] ?? 0);
    return busy / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Polls `http://address/healthz` until it answers 200; fails early if `child` exits. */
export async function waitHealthy(child: Child, address: string): Promise<void> {
  const deadline = Date.now() + HEALTHY_WAIT_MS;
  while (Date.now() < deadline) {
    if (!child.running) throw new Error(`${child.name} exited before it was healthy:\n${child.stderr}`);
    try {
      const res = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet: poll again until the deadline.
    }
    await delay(POLL_MS);
  }
  throw new Error(`${child.name} was not healthy within ${HEALTHY_WAIT_MS} ms:\n${child.stderr}`);
}
