/**
 * The printed table and the JSON file. One row per workload and mode; columns: each engine's
 * ops/s, the ratios ours/classic-level and ours/lmdb, our MB/s, each engine's latency
 * percentiles (per call: one operation in single mode, BATCH_OPS in batch mode), and, for this
 * engine, write amplification (since the last open; '-' when nothing was written since) and
 * live bytes after the workload.
 */
import { cpus, release, totalmem, type } from 'node:os';
import type { Result } from './plan.ts';
import type { EngineName } from './store.ts';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

export function describeMachine(): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.version,
  };
}

export interface Row {
  workload: string;
  mode: string;
  byEngine: Partial<Record<EngineName, Result>>;
}

/** Results grouped by (workload, mode), in the order they were produced. */
export function rowsOf(results: readonly Result[]): Row[] {
  const rows = new Map<string, Row>();
  for (const r of results) {
    const id = `${r.workload}/${r.mode}`;
    let row = rows.get(id);
    if (!row) {
      row = { workload: r.workload, mode: r.mode, byEngine: {} };
      rows.set(id, row);
    }
    row.byEngine[r.engine] = r;
  }
  return [...rows.values()];
}

export function ratio(row: Row, other: EngineName): number | undefined {
  const ours = row.byEngine.distribkv;
  const theirs = row.byEngine[other];
  return ours && theirs ? ours.opsPerSec / theirs.opsPerSec : undefined;
}

const num = (x: number) => Math.round(x).toLocaleString('en-US');
const times = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(2)}x`);

function micros(us: number): string {
  if (us >= 100_000) return `${(us / 1000).toFixed(0)}ms`;
  if (us >= 10_000) return `${(us / 1000).toFixed(1)}ms`;
  if (us >= 100) return us.toFixed(0);
  return us >= 10 ? us.toFixed(1) : us.toFixed(2);
}

function latency(r: Result | undefined): string {
  if (!r) return '-';
  const l = r.latencyUs;
  return `${micros(l.p50)}/${micros(l.p99)}/${micros(l.p999)}`;
}

/** Header and body cells of the table. */
function tableCells(rows: readonly Row[], engines: readonly EngineName[]): { header: string[]; body: string[][] } {
  const header = [
    'workload',
    'mode',
    ...engines.map((e) => `${e} ops/s`),
    'ours/classic',
    'ours/lmdb',
    'ours MB/s',
    ...engines.map((e) => `${e} µs p50/p99/p99.9`),
    'ours WA',
    'ours MB live',
  ];
  const body = rows.map((row) => {
    const ours = row.byEngine.distribkv;
    return [
      row.workload,
      row.mode,
      ...engines.map((e) => (row.byEngine[e] ? num(row.byEngine[e]!.opsPerSec) : '-')),
      times(ratio(row, 'classic-level')),
      times(ratio(row, 'lmdb')),
      ours ? ours.mbPerSec.toFixed(1) : '-',
      ...engines.map((e) => latency(row.byEngine[e])),
      ours?.figures.writeAmplification ? ours.figures.writeAmplification.toFixed(2) : '-',
      ours?.figures.liveBytes !== undefined ? (ours.figures.liveBytes / 1e6).toFixed(1) : '-',
    ];
  });
  return { header, body };
}

/** The table as aligned text lines. */
export function formatTable(rows: readonly Row[], engines: readonly EngineName[]): string[] {
  const { header, body } = tableCells(rows, engines);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)];
}

/** The same table in Markdown, for docs/benchmarks.md. */
export function formatMarkdown(rows: readonly Row[], engines: readonly EngineName[]): string[] {
  const { header, body } = tableCells(rows, engines);
  const out = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const cells of body) out.push(`| ${cells.join(' | ')} |`);
  return out;
}
