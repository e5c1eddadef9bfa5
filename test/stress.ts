/**
 * Long runs of the reliability suite: `npm run stress -- --minutes N` repeats the tests in
 * test/reliability/, the namespaced cluster under the nemesis (test/hosts/nemesis.test.ts and
 * the resharding under it, test/hosts/reshard.test.ts; skipped where namespaces cannot be made), the chaos run (test/chaos/chaos.test.ts: kill -9
 * of shard leaders for 2 minutes) and 20 kills of the control plane's leader
 * (test/control/controller-failover.integration.test.ts) with larger knobs and fresh seeds
 * until N minutes are up, and prints a summary. Beside them, for the whole time, it runs the Raft simulator
 * (`npm run sim`) in batches of fresh seeds, 3 and 5 voters in turn. It stops at the first
 * failure and prints the seeds to replay it.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0 && minutes <= 24 * 60)) {
  console.error(`stress: --minutes must be a number in (0, 1440], got ${JSON.stringify(values.minutes)}`);
  process.exit(1);
}
const deadline = Date.now() + minutes * 60_000;
const simulation = simulateUntil(deadline);
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
    CHAOS_SECONDS: '120',
    CHAOS_SEED: seed,
    CONTROLLER_KILLS: '20',
  };
  const files = ['test/reliability/', 'test/engine/model.test.ts', 'test/hosts/nemesis.test.ts', 'test/hosts/reshard.test.ts', 'test/chaos/chaos.test.ts', 'test/control/controller-failover.integration.test.ts'];
  // Asynchronous, so the simulator batches keep running beside it.
  const run = await new Promise<{ status: number | null }>((resolve) => {
    spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=dot', ...expand(files)], { env, stdio: 'inherit' }).on('close', (status) => resolve({ status }));
  });
  rounds++;
  if (run.status !== 0) {
    console.error(`stress: round ${rounds} failed (seed ${seed}); replay with KILL9_SEED=${seed} CRASH_EXPLORER_SEED=${seed} MODEL_SEED=${seed} HOSTS_SEED=${seed} HOSTS_ROUNDS=3 HOSTS_PHASE_ACKS=200 CHAOS_SEED=${seed} CHAOS_SECONDS=120`);
    process.exit(1);
  }
  console.log(`stress: round ${rounds} passed (seed ${seed}); ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left`);
}
console.log(`stress: ${rounds} rounds passed in ${minutes} minutes`);
console.log(`stress: Raft simulation: ${await simulation}`);

/** Batches of simulator schedules with fresh seeds until the deadline; exits the process on a violation. */
async function simulateUntil(end: number): Promise<string> {
  let schedules = 0;
  for (let batch = 0; Date.now() < end; batch++) {
    const seed = (Date.now() % 1_000_000_000) + batch;
    const nodes = batch % 2 === 0 ? '3' : '5';
    const args = ['--import', 'tsx', 'test/raft/sim/main.ts', '--seeds', '100', '--seed', String(seed), '--nodes', nodes, '--steps', '600'];
    const { status, output } = await new Promise<{ status: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      child.stderr.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      child.on('close', (code) => resolve({ status: code, output: text }));
    });
    if (status !== 0) {
      console.error(`stress: the Raft simulator found a violation (batch from seed ${seed}, ${nodes} voters):\n${output}`);
      process.exit(1);
    }
    schedules += 100;
  }
  return `${schedules} schedules, 0 violations`;
}

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
