/**
 * The targets of issue 4, checked against one run: ratios of this engine over classic-level
 * in the same run, and group commit's gain with 64 writers over 1.
 */
import { ratio, type Row } from './report.ts';

export interface TargetCheck {
  target: string;
  reached: number | undefined;
  goal: number;
  met: boolean | undefined;
}

interface Target {
  target: string;
  goal: number;
  measure(rows: readonly Row[]): number | undefined;
}

const find = (rows: readonly Row[], workload: string, mode: string) => rows.find((r) => r.workload === workload && r.mode === mode);
const vsClassic = (workload: string, mode: string) => (rows: readonly Row[]) => {
  const row = find(rows, workload, mode);
  return row && ratio(row, 'classic-level');
};

const TARGETS: readonly Target[] = [
  { target: 'awaited single put (fillrandom, single) vs classic-level', goal: 5, measure: vsClassic('fillrandom', 'single') },
  { target: 'awaited single get (readrandom, single) vs classic-level', goal: 5, measure: vsClassic('readrandom', 'single') },
  { target: 'batched fillrandom vs classic-level', goal: 1, measure: vsClassic('fillrandom', 'batch') },
  { target: 'readseq (single) vs classic-level', goal: 1.5, measure: vsClassic('readseq', 'single') },
  { target: 'readseq (batch) vs classic-level', goal: 1.5, measure: vsClassic('readseq', 'batch') },
  { target: 'readrandom (batch) vs classic-level', goal: 1, measure: vsClassic('readrandom', 'batch') },
  {
    target: 'fillsync, 64 writers over 1 writer (distribkv)',
    goal: 20,
    measure: (rows) => {
      const one = find(rows, 'fillsync-1', 'single')?.byEngine.distribkv;
      const many = find(rows, 'fillsync-64', 'single')?.byEngine.distribkv;
      return one && many ? many.opsPerSec / one.opsPerSec : undefined;
    },
  },
];

export function checkTargets(rows: readonly Row[]): TargetCheck[] {
  return TARGETS.map((t) => {
    const reached = t.measure(rows);
    return { target: t.target, goal: t.goal, reached, met: reached === undefined ? undefined : reached >= t.goal };
  });
}

export function formatTargets(checks: readonly TargetCheck[]): string[] {
  return checks.map((c) => {
    const status = c.met === undefined ? 'not run' : c.met ? 'met   ' : 'MISSED';
    const reached = c.reached === undefined ? '-' : `${c.reached.toFixed(2)}x`;
    return `  ${status}  ${c.target}: ${reached} (goal ${c.goal}x)`;
  });
}
