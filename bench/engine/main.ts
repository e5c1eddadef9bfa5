/**
 * `npm run bench:engine`: db_bench-style workloads against this engine, classic-level
 * (LevelDB) and lmdb (LMDB) in one run, taking turns. Prints one table (with the ratios
 * ours/classic-level and ours/lmdb) and the issue-4 targets; writes JSON and an SVG chart to
 * bench/results/ (engine-<time>.* and engine-latest.*). Progress goes to stderr.
 *
 *   npm run bench:engine -- [--n 1000000 | --quick] [--sync-n 10000] [--modes single,batch]
 *                           [--engines distribkv,classic-level,lmdb] [--only fillrandom,readseq]
 *                           [--seed 301] [--out bench/results]
 *
 * Run heavy benchmarks one at a time: the engines share the machine with whatever else runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderChart } from './chart.ts';
import { runPlan, type PlanOptions } from './plan.ts';
import { describeMachine, formatTable, rowsOf } from './report.ts';
import { ENGINES, type EngineName, type StoreFactory } from './store.ts';
import { classicLevel } from './stores/classic-level.ts';
import { distribkv } from './stores/distribkv.ts';
import { lmdb } from './stores/lmdb.ts';
import { checkTargets, formatTargets } from './targets.ts';
import type { Mode } from './workloads.ts';

const FACTORIES: Record<EngineName, StoreFactory> = { distribkv, 'classic-level': classicLevel, lmdb };
const QUICK_N = 100_000;

function parseOptions(): PlanOptions & { out: string; command: string } {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '1000000' },
      quick: { type: 'boolean', default: false },
      'sync-n': { type: 'string', default: '10000' },
      modes: { type: 'string', default: 'single,batch' },
      engines: { type: 'string', default: ENGINES.join(',') },
      only: { type: 'string' },
      seed: { type: 'string', default: '301' },
      out: { type: 'string', default: 'bench/results' },
    },
  });
  const n = values.quick ? QUICK_N : positiveInteger('--n', values.n);
  const engines = values.engines.split(',').map((e) => {
    if (!(e in FACTORIES)) throw new Error(`bench: unknown engine ${JSON.stringify(e)} (expected one of ${ENGINES.join(', ')})`);
    return e as EngineName;
  });
  const modes = values.modes.split(',').map((m) => {
    if (m !== 'single' && m !== 'batch') throw new Error(`bench: unknown mode ${JSON.stringify(m)} (expected single or batch)`);
    return m as Mode;
  });
  return {
    n,
    syncN: positiveInteger('--sync-n', values['sync-n']),
    modes,
    factories: engines.map((e) => FACTORIES[e]),
    only: values.only === undefined ? undefined : new Set(values.only.split(',')),
    seed: positiveInteger('--seed', values.seed),
    out: values.out,
    command: `npm run bench:engine -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
  };
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`bench: ${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const machine = describeMachine();
  const engines = options.factories.map((f) => f.engine);
  const started = new Date();
  const about = `n = ${options.n.toLocaleString('en-US')} keys of 16 bytes, values of 100 bytes; fillsync ${options.syncN.toLocaleString('en-US')} puts per writer configuration`;
  process.stderr.write(`${about}\n${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, node ${machine.node}\n`);
  const results = await runPlan(options, (r) => {
    process.stderr.write(`  ${r.engine.padEnd(13)} ${`${r.workload} (${r.mode})`.padEnd(24)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(11)} ops/s\n`);
  });
  const rows = rowsOf(results);
  const targets = checkTargets(rows);
  const lines = [
    `distribkv engine benchmark, ${started.toISOString()}`,
    about,
    `latency is per call: one operation (single) or ${'1,000'} (batch); WA and MB live are distribkv's db.stats() after the workload`,
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, node ${machine.node}`,
    `command: ${options.command}`,
    '',
    ...formatTable(rows, engines),
    '',
    'targets (issue 4):',
    ...formatTargets(targets),
  ];
  console.log(lines.join('\n'));
  writeResults(options.out, started, { started: started.toISOString(), command: options.command, machine, n: options.n, syncN: options.syncN, results, targets }, renderChart(rows, engines, `distribkv vs classic-level vs lmdb, n = ${options.n.toLocaleString('en-US')}`, `${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${started.toISOString().slice(0, 10)}`));
}

function writeResults(out: string, started: Date, json: unknown, svg: string): void {
  mkdirSync(out, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const text = JSON.stringify(json, null, 2) + '\n';
  for (const name of [`engine-${stamp}`, 'engine-latest']) {
    writeFileSync(join(out, `${name}.json`), text);
    writeFileSync(join(out, `${name}.svg`), svg);
  }
  process.stderr.write(`wrote ${join(out, `engine-${stamp}.json`)} and .svg (also engine-latest.*)\n`);
}

await main();
