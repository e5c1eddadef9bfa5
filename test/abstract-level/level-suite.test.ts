import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';

/** A bound, not a speed check: about 20 s alone, but over 180 s on a 2-core machine at a load average of 40. */
const SUITE_TIMEOUT_MS = 600_000;

interface TapCounts {
  passed: number;
  failed: number;
  /** tape's own closing "# pass N" / "# fail N", when present. */
  summary: { pass?: number; fail?: number };
  failures: string[];
}

/** Counts tape's assertion lines: `ok N ...` and `not ok N ...` (a TODO failure is not a failure). */
function countTap(tap: string): TapCounts {
  const counts: TapCounts = { passed: 0, failed: 0, summary: {}, failures: [] };
  for (const line of tap.split('\n')) {
    if (/^ok \d+/.test(line)) counts.passed++;
    else if (/^not ok \d+/.test(line) && !/# TODO/i.test(line)) {
      counts.failed++;
      counts.failures.push(line);
    }
    const summary = /^# (pass|fail) +(\d+)$/.exec(line);
    if (summary) counts.summary[summary[1] as 'pass' | 'fail'] = Number(summary[2]);
  }
  return counts;
}

function runSuite(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/abstract-level/suite.ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test("DistribkvLevel passes abstract-level's own test suite, run through tape", { timeout: SUITE_TIMEOUT_MS }, async (t) => {
  const started = performance.now();
  const run = await runSuite();
  const counts = countTap(run.stdout);
  const line = `${counts.passed} passed, ${counts.failed} failed`;
  t.diagnostic(line);
  t.diagnostic(`abstract-level suite took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(run.signal, null, `the suite was killed by ${run.signal}`);
  assert.equal(run.code, 0, `the suite exited with ${run.code}: ${run.stderr.slice(-2000)}`);
  assert.equal(counts.failed, 0, `failures:\n${counts.failures.slice(0, 20).join('\n')}`);
  assert.ok(counts.passed > 1000, `only ${counts.passed} assertions passed: did the suite run?`);
  // tape closes with "# pass N", and "# fail N" only when something failed.
  assert.deepEqual({ pass: counts.summary.pass, fail: counts.summary.fail ?? 0 }, { pass: counts.passed, fail: counts.failed }, "tape's own summary disagrees with the count of TAP lines");
  console.log(line);
});
