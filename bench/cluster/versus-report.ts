/**
 * The Redis comparison as text: one table of pairs (ours beside Redis, operations per second,
 * latency, CPU per operation of each side's server and load generator), the crossover search,
 * and the targets of issue 19 checked against them.
 */
import { REDIS_PIPELINE_DEPTH } from './options.ts';
import type { RunFigures } from './recorder.ts';
import { ratioText, type TargetCheck } from './report.ts';
import type { VersusReport, VersusSide } from './versus-redis.ts';

/** Issue 19's floors, ours / Redis in operations per second (same run). */
export const VERSUS_TARGETS = { durablePut: 0.5, batchAtDepth: 0.6, batchPassed: 1.0 };

const ops = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (us: number) => (Number.isNaN(us) ? '-' : (us / 1000).toFixed(2));

/** Microseconds of CPU per operation that processes of `role` spent during the run. */
function cpuPerOp(side: VersusSide, role: keyof NonNullable<RunFigures['cpuSeconds']>): string {
  const seconds = side.figures.cpuSeconds?.[role];
  const operations = side.figures.ok * side.opsPerRequest;
  return seconds === undefined || operations === 0 ? '-' : (seconds * 1e6 / operations).toFixed(1);
}

export function versusTable(report: VersusReport): string {
  const lines = [
    '| comparison | ours | ours ops/s | p50 / p99 ms | Redis | Redis ops/s | p50 / p99 ms | **ours/Redis** | ceiling ops/s | ceiling/Redis |',
    '|---|---|---:|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of report.rows) {
    const o = r.ours.figures.latencyUs;
    const t = r.redis.figures.latencyUs;
    const bare = r.ceiling ? `${ops(r.ceiling.opsPerSec)} | ${(r.ceiling.opsPerSec / r.redis.opsPerSec).toFixed(2)}x` : '- | -';
    lines.push(`| ${r.what} | ${r.ours.title} | ${ops(r.ours.opsPerSec)} | ${ms(o.p50)} / ${ms(o.p99)} | ${r.redis.title} | ${ops(r.redis.opsPerSec)} | ${ms(t.p50)} / ${ms(t.p99)} | **${ratioText(r.ratio, r.ratios)}** | ${bare} |`);
  }
  return lines.join('\n');
}

/** CPU per operation of each side's server and load generator, and the load from other processes. */
export function versusCpuTable(report: VersusReport): string {
  const lines = [
    '| comparison | ours: node | load generator | ceiling: server | load generator | Redis: server | load generator | other load, cores: ours / ceiling / Redis |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const other = (side: VersusSide | undefined) => (side?.figures.otherCores === undefined ? '-' : side.figures.otherCores.toFixed(2));
  for (const r of report.rows) {
    const bare = r.ceiling ? `${cpuPerOp(r.ceiling, 'ceiling')} | ${cpuPerOp(r.ceiling, 'loadgen')}` : '- | -';
    lines.push(`| ${r.what} | ${cpuPerOp(r.ours, 'leader')} | ${cpuPerOp(r.ours, 'loadgen')} | ${bare} | ${cpuPerOp(r.redis, 'redis')} | ${cpuPerOp(r.redis, 'loadgen')} | ${other(r.ours)} / ${other(r.ceiling)} / ${other(r.redis)} |`);
  }
  return lines.join('\n');
}

export function crossoverTable(report: VersusReport): string {
  const lines = [
    `| batch of | operations per batch | ours ops/s | requests/s | p50 / p99 ms a request | Redis -P ${REDIS_PIPELINE_DEPTH} ops/s | ours / Redis |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of report.crossovers) {
    for (const s of c.steps) {
      const l = s.ours.figures.latencyUs;
      lines.push(`| ${c.kind}s | ${s.batchOps} | ${ops(s.ours.opsPerSec)} | ${ops(s.ours.figures.opsPerSec)} | ${ms(l.p50)} / ${ms(l.p99)} | ${ops(s.redisOpsPerSec)} | ${ratioText(s.ratio, s.ratios)} |`);
    }
  }
  return lines.join('\n');
}

export function checkVersusTargets(report: VersusReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const durable = report.rows.find((r) => r.ours.title.includes('sync=true'));
  if (durable) checks.push({ what: 'durable PUT / Redis appendfsync always', mode: 'raw', value: durable.ratio, target: `>= ${VERSUS_TARGETS.durablePut}`, met: durable.ratio >= VERSUS_TARGETS.durablePut });
  for (const c of report.crossovers) {
    const atDepth = c.steps.find((s) => s.batchOps === REDIS_PIPELINE_DEPTH);
    if (atDepth) checks.push({ what: `batch ${c.kind}s of ${REDIS_PIPELINE_DEPTH} / Redis -P ${REDIS_PIPELINE_DEPTH}`, mode: 'raw', value: atDepth.ratio, target: `>= ${VERSUS_TARGETS.batchAtDepth}`, met: atDepth.ratio >= VERSUS_TARGETS.batchAtDepth });
    const best = Math.max(...c.steps.map((s) => s.ratio));
    const tried = c.steps.map((s) => s.batchOps).join(', ');
    checks.push({
      what: c.passedAt === undefined ? `batch ${c.kind}s passing Redis -P ${REDIS_PIPELINE_DEPTH} (none of ${tried} did; best)` : `batch ${c.kind}s passing Redis -P ${REDIS_PIPELINE_DEPTH} from ${c.passedAt} a batch`,
      mode: 'raw', value: best, target: `>= ${VERSUS_TARGETS.batchPassed} at some size`, met: c.passedAt !== undefined,
    });
  }
  return checks;
}
