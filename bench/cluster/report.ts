/**
 * The cluster benchmark's results: one row per workload, mode and network (ours beside the
 * ceiling and their ratio), the targets of issue 8 checked against the loopback rows, Markdown
 * tables for the terminal and docs/benchmarks.md (the hosts run beside the loopback one), and
 * the JSON document written to bench/results/.
 */
import os from 'node:os';
import type { Network } from './arena.ts';
import type { BenchOptions, Mode, WorkloadName } from './options.ts';
import type { RunFigures } from './recorder.ts';
import type { VersusReport } from './versus-redis.ts';

export interface Row {
  network: Network;
  workload: WorkloadName;
  title: string;
  mode: Mode;
  ours: RunFigures;
  ceiling: RunFigures;
  /** ours.opsPerSec / ceiling.opsPerSec, of the median round */
  ratio: number;
  /** Every round's ratio, in the order run (`--rounds`; one without it). */
  ratios: number[];
}

/** `0.42x`, or with rounds `0.42x (0.39-0.47 over 3 rounds)`. */
export function ratioText(ratio: number, ratios: readonly number[]): string {
  if (ratios.length < 2) return `${ratio.toFixed(2)}x`;
  return `${ratio.toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} over ${ratios.length} rounds)`;
}

/** The round with the median ratio (the lower one of an even count), carrying every round's ratio. */
export function medianRound<T extends { ratio: number }>(rounds: readonly T[]): T & { ratios: number[] } {
  if (rounds.length === 0) throw new Error('medianRound needs at least one round');
  const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)]!;
  return { ...median, ratios: rounds.map((r) => r.ratio) };
}

export interface TargetCheck {
  what: string;
  mode: Mode;
  value: number;
  target: string;
  met: boolean;
}

/** Ratio floors of issue 8 (ours / ceiling, same run), and the p99 ceiling at the default 50 connections. */
export const RATIO_TARGETS: Partial<Record<WorkloadName, number>> = { get: 0.6, 'put-acks-1': 0.4 };
export const P99_TARGET_MS = 10;

export function checkTargets(rows: readonly Row[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const row of rows.filter((r) => r.network === 'loopback')) {
    const floor = RATIO_TARGETS[row.workload];
    if (floor === undefined) continue;
    checks.push({ what: `${row.workload} ours/ceiling`, mode: row.mode, value: row.ratio, target: `>= ${floor}`, met: row.ratio >= floor });
    const p99Ms = row.ours.latencyUs.p99 / 1000;
    checks.push({ what: `${row.workload} p99 ms`, mode: row.mode, value: p99Ms, target: `<= ${P99_TARGET_MS}`, met: p99Ms <= P99_TARGET_MS });
  }
  return checks;
}

const ms = (us: number) => (us / 1000).toFixed(2);
const ops = (x: number) => Math.round(x).toLocaleString('en-US');

export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    '| workload | via | ours ops/s | p50 / p99 / p99.9 ms | ceiling ops/s | ceiling p50 / p99 / p99.9 ms | ours/ceiling | failed |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const l = r.ours.latencyUs;
    const c = r.ceiling.latencyUs;
    lines.push(`| ${r.title} | ${r.mode} | ${ops(r.ours.opsPerSec)} | ${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.p999)} | ${ops(r.ceiling.opsPerSec)} | ${ms(c.p50)} / ${ms(c.p99)} / ${ms(c.p999)} | ${ratioText(r.ratio, r.ratios)} | ${failedText(r.ours)} |`);
  }
  return lines.join('\n');
}

/** Microseconds of CPU per successful request, by kind of process, for ours and the ceiling. */
export function cpuTable(rows: readonly Row[]): string {
  const per = (f: RunFigures, role: keyof NonNullable<RunFigures['cpuSeconds']>) => {
    const seconds = f.cpuSeconds?.[role];
    return seconds === undefined || f.ok === 0 ? '-' : Math.round((seconds * 1e6) / f.ok).toString();
  };
  const waiting = (f: RunFigures, role: 'leader' | 'replica' | 'ceiling') => {
    const share = f.cpuWaitShare?.[role];
    return share === undefined ? '-' : `${Math.round(share * 100)}%`;
  };
  const lines = [
    '| workload | via | ours: leaders | replicas | load generator | ceiling: servers | load generator | event loop waiting for a CPU: leaders / replicas / ceiling | other load, cores: ours / ceiling |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const other = (f: RunFigures) => (f.otherCores === undefined ? '-' : f.otherCores.toFixed(2));
  for (const r of rows) {
    lines.push(`| ${r.title} | ${r.mode} | ${per(r.ours, 'leader')} | ${per(r.ours, 'replica')} | ${per(r.ours, 'loadgen')} | ${per(r.ceiling, 'ceiling')} | ${per(r.ceiling, 'loadgen')} | ${waiting(r.ours, 'leader')} / ${waiting(r.ours, 'replica')} / ${waiting(r.ceiling, 'ceiling')} | ${other(r.ours)} / ${other(r.ceiling)} |`);
  }
  return lines.join('\n');
}

export function targetLines(checks: readonly TargetCheck[]): string {
  return checks.map((c) => `${c.met ? 'met   ' : 'MISSED'} ${c.what} (${c.mode}): ${c.value.toFixed(3)}, target ${c.target}`).join('\n');
}

/** The hosts run beside the loopback run, workload by workload: throughput, ratio to each one's ceiling, p99. */
export function hostsTable(rows: readonly Row[]): string {
  const lines = [
    '| workload | via | loopback: ours ops/s | ours/ceiling | p99 ms | hosts: ours ops/s | ours/ceiling | p99 ms | ours, hosts/loopback | ceiling, hosts/loopback |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const h of rows.filter((r) => r.network === 'hosts')) {
    const l = rows.find((r) => r.network === 'loopback' && r.workload === h.workload && r.mode === h.mode);
    if (!l) continue;
    const per = (a: number, b: number) => (b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
    lines.push(`| ${h.title} | ${h.mode} | ${ops(l.ours.opsPerSec)} | ${ratioText(l.ratio, l.ratios)} | ${ms(l.ours.latencyUs.p99)} | ${ops(h.ours.opsPerSec)} | ${ratioText(h.ratio, h.ratios)} | ${ms(h.ours.latencyUs.p99)} | ${per(h.ours.opsPerSec, l.ours.opsPerSec)} | ${per(h.ceiling.opsPerSec, l.ceiling.opsPerSec)} |`);
  }
  return lines.join('\n');
}

function failedText(f: RunFigures): string {
  if (f.failed === 0) return '0';
  const top = Object.entries(f.failures).sort((a, b) => b[1] - a[1]).slice(0, 2).map(([k, v]) => `${k}: ${v}`);
  return `${f.failed} (${top.join(', ')})`;
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
  };
}

export function resultDocument(options: BenchOptions, command: string, startedAt: string, rows: readonly Row[], redis: VersusReport | undefined, redisTargets: readonly TargetCheck[]) {
  return { version: 2, kind: 'cluster', startedAt, command, machine: machineInfo(), options, rows, targets: checkTargets(rows), redis, redisTargets };
}
