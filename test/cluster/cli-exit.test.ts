/**
 * The CLI's exit waits for its output: a process that writes more than a pipe holds and then
 * exits through exitFlushed loses nothing, even when its reader starts reading only after the
 * process has finished writing (process.exit alone drops what is still queued).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runNode } from '../helpers/run-command.ts';

const BYTES = 1024 * 1024;

test('exitFlushed exits only once stdout has taken everything written, for a reader that starts late', async () => {
  const script = [
    "import { exitFlushed } from './net/cli/exit.ts';",
    `process.stdout.write('x'.repeat(${BYTES}));`,
    // Told after the write, so the reader starts only once 1 MiB is queued behind a full pipe.
    "process.stderr.write('written\\n');",
    'void exitFlushed(3);',
  ].join('\n');
  const result = await runNode(['--import', 'tsx', '--input-type=module', '-e', script], { holdStdoutUntil: /written/, timeoutMs: 60_000 });
  assert.equal(result.timedOut, false);
  assert.equal(result.code, 3, result.stderr);
  assert.equal(result.stdout.length, BYTES, `stdout received ${result.stdout.length} of ${BYTES} bytes`);
});
