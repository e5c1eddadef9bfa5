/**
 * `npm run sim -- --seeds N [--seed S] [--nodes 3|5] [--steps K] [--verbose]`: runs N seeded
 * schedules of the Raft simulator (simulator.ts) from seed S on (default 1), and prints
 * `N schedules, 0 violations`, or the failing seed, the violation and the command that
 * replays it (exit code 1).
 */
import { parseArgs } from 'node:util';
import { replayCommand, runSchedule, type SimulationOptions } from './simulator.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    nodes: { type: 'string', default: '3' },
    steps: { type: 'string', default: '600' },
    verbose: { type: 'boolean', default: false },
  },
});
const seeds = Number(values.seeds);
const first = Number(values.seed);
const nodes = Number(values.nodes);
const steps = Number(values.steps);
const problems = [
  !(Number.isSafeInteger(seeds) && seeds >= 1) && `--seeds must be a positive integer, got ${JSON.stringify(values.seeds)}`,
  !Number.isSafeInteger(first) && `--seed must be an integer, got ${JSON.stringify(values.seed)}`,
  nodes !== 3 && nodes !== 5 && `--nodes must be 3 or 5, got ${JSON.stringify(values.nodes)}`,
  !(Number.isSafeInteger(steps) && steps >= 1) && `--steps must be a positive integer, got ${JSON.stringify(values.steps)}`,
].filter(Boolean);
if (problems.length > 0) {
  console.error(`sim: ${problems.join('; ')}`);
  process.exit(2);
}

const started = performance.now();
for (let k = 0; k < seeds; k++) {
  const options: SimulationOptions = { seed: first + k, nodes: nodes as 3 | 5, faultSteps: steps, healSteps: 600 };
  const report = await runSchedule(options);
  if (values.verbose) console.log(`seed ${options.seed}: ${JSON.stringify(report.stats)}`);
  if (report.violation) {
    console.log(`seed ${options.seed}: VIOLATION ${report.violation}`);
    console.log(`replay: ${replayCommand(options)}`);
    console.log(`${k + 1} schedules, 1 violation`);
    process.exit(1);
  }
}
console.log(`${seeds} schedules, 0 violations (${nodes} voters, ${steps} fault steps each, ${((performance.now() - started) / 1000).toFixed(1)} s)`);
