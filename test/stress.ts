/**
 * Long runs of the reliability suite: `npm run stress -- --minutes N` repeats the tests in
 * test/reliability/ and the namespaced cluster under the nemesis (test/hosts/nemesis.test.ts,
 * skipped where namespaces cannot be made) with larger knobs and fresh seeds until N minutes
 * are up, and prints a summary. It stops at the first failure and prints the seeds to replay it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0 && minutes <= 24 * 60)) {
  console.error(`stress: --minutes must be a number in (0, 1440], got ${JSON.stringify(values.minutes)}`);
  process.exit(1);
}
const deadline = Date.now() + minutes * 60_000;
let rounds = 0;
while (Date.now() < deadline) {
  const seed = String(Date.now() % 1_000_000);
  const env = {
    ...process.env,
    KILL9_CYCLES: '100',
    KILL9_SEED: seed,
    CRASH_EXPLORER_WRITES: '1500',
    CRASH_EXPLORER_SEED: seed,
    SWEEP_POINTS: '600',
    MODEL_STEPS: '20000',
    MODEL_SEED: seed,
    HOSTS_ROUNDS: '3',
    HOSTS_PHASE_ACKS: '200',
    HOSTS_SEED: seed,
  };
  const files = ['test/reliability/', 'test/engine/model.test.ts', 'test/hosts/nemesis.test.ts'];
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=dot', ...expand(files)], { env, stdio: 'inherit' });
  rounds++;
  if (run.status !== 0) {
    console.error(`stress: round ${rounds} failed (seed ${seed}); replay with KILL9_SEED=${seed} CRASH_EXPLORER_SEED=${seed} MODEL_SEED=${seed} HOSTS_SEED=${seed} HOSTS_ROUNDS=3 HOSTS_PHASE_ACKS=200`);
    process.exit(1);
  }
  console.log(`stress: round ${rounds} passed (seed ${seed}); ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left`);
}
console.log(`stress: ${rounds} rounds passed in ${minutes} minutes`);

function expand(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!p.endsWith('/')) out.push(p);
    else {
      out.push(...readdirSync(p).filter((n) => n.endsWith('.test.ts')).sort().map((n) => p + n));
    }
  }
  return out;
}
