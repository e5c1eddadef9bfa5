/**
 * Re-renders a saved run (bench/results/engine-*.json) as the Markdown table and target list
 * used in docs/benchmarks.md and the README, and optionally its SVG chart.
 *
 *   node --import tsx bench/engine/render.ts bench/results/engine-latest.json [--svg out.svg]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { renderChart } from './chart.ts';
import type { Result } from './plan.ts';
import { formatMarkdown, rowsOf, type Machine } from './report.ts';
import { ENGINES } from './store.ts';
import { checkTargets } from './targets.ts';

interface SavedRun {
  started: string;
  command: string;
  machine: Machine;
  n: number;
  syncN: number;
  results: Result[];
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { svg: { type: 'string' } } });
if (positionals.length !== 1) throw new Error('render: give one results JSON file');
const run = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as SavedRun;
const engines = ENGINES.filter((e) => run.results.some((r) => r.engine === e));
const rows = rowsOf(run.results);
const m = run.machine;
console.log(`${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, node ${m.node}; ${run.started}`);
console.log(`\`${run.command}\`: n = ${run.n.toLocaleString('en-US')}, fillsync ${run.syncN.toLocaleString('en-US')} puts per writer configuration\n`);
console.log(formatMarkdown(rows, engines).join('\n'));
console.log('\n| target | goal | reached | |\n|---|---:|---:|---|');
for (const t of checkTargets(rows)) {
  console.log(`| ${t.target} | ${t.goal}x | ${t.reached === undefined ? '-' : `${t.reached.toFixed(2)}x`} | ${t.met === undefined ? 'not run' : t.met ? 'met' : 'missed'} |`);
}
if (values.svg) {
  writeFileSync(values.svg, renderChart(rows, engines, `distribkv vs classic-level vs lmdb, n = ${run.n.toLocaleString('en-US')}`, `${m.cpu}, ${m.cores} cores, node ${m.node}, ${run.started.slice(0, 10)}`));
}
