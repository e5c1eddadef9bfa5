/**
 * `npm run chaos -- --seconds S [--seed N] [--controllers dedicated|colocated] [--kill-every-ms MS] [--explain-slower-ms MS] [--json]`:
 * the chaos run of chaos-run.ts, printed; `--explain-slower-ms` adds, for each failover slower
 * than that, every node's log lines from the kill to the first acknowledged write. Exit code 0 when no promise was broken, 1 on any
 * violation (a lost acknowledged write, a non-linearizable key, two nodes acknowledging for one
 * shard at one term, a failover that never ended, no failover at all), 2 on bad arguments.
 * With `--json` the last line is the report's figures as one JSON object.
 */
import { parseArgs } from 'node:util';
import { CHAOS_DEFAULTS, formatReport, reportJson, runChaos } from './chaos-run.ts';

const USAGE = 'usage: npm run chaos -- --seconds S [--seed N] [--controllers dedicated|colocated] [--kill-every-ms MS] [--explain-slower-ms MS] [--json]';
/** A chaos run of more than a day is a typo. */
const SECONDS_MAX = 86_400;

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function numberArg(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      seconds: { type: 'string' }, seed: { type: 'string' }, controllers: { type: 'string' }, 'kill-every-ms': { type: 'string' },
      'explain-slower-ms': { type: 'string' }, json: { type: 'boolean', default: false },
    },
    strict: true,
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.seconds === undefined) fail('--seconds is required');
const controllers = values.controllers ?? CHAOS_DEFAULTS.controllers;
if (controllers !== 'dedicated' && controllers !== 'colocated') fail(`--controllers must be dedicated or colocated, got ${JSON.stringify(controllers)}`);
const report = await runChaos({
  ...CHAOS_DEFAULTS,
  seconds: numberArg('seconds', values.seconds, 0, 1, SECONDS_MAX),
  seed: Math.trunc(numberArg('seed', values.seed, CHAOS_DEFAULTS.seed, 0, Number.MAX_SAFE_INTEGER)),
  controllers,
  killEveryMs: numberArg('kill-every-ms', values['kill-every-ms'], CHAOS_DEFAULTS.killEveryMs, 100, 600_000),
  progress: (line) => process.stdout.write(`${line}\n`),
  explainSlowerMs: values['explain-slower-ms'] === undefined ? undefined : numberArg('explain-slower-ms', values['explain-slower-ms'], 0, 0, 3_600_000),
});
process.stdout.write(`${formatReport(report).join('\n')}\n`);
if (values.json) process.stdout.write(`${JSON.stringify(reportJson(report))}\n`);
process.exit(report.violations.length === 0 ? 0 : 1);
