/**
 * Runs a command to its end, bounded in time, and collects what it printed: for tests of the
 * user-facing commands (npm start's script, cluster/node.ts, bin/kv, the engine tools). The
 * child is killed if it outlives `timeoutMs`, and the result says so.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Written to stdin, which is then closed (stdin is empty otherwise). */
  input?: string;
  timeoutMs?: number;
  cwd?: string;
  /**
   * Leave stdout unread (the pipe fills and the child's writes queue) until stderr matches this,
   * or HOLD_STDOUT_MS_MAX passes: a slow reader, as `kv export | gzip` can be.
   */
  holdStdoutUntil?: RegExp;
}

/** The longest a held stdout stays unread, so that a child waiting for its reader cannot hang a test. */
const HOLD_STDOUT_MS_MAX = 5_000;

/** `node ARGS…` from the repository's root; resolves when it exits (or is killed at the deadline). */
export function runNode(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, DISTRIBKV_TOKEN: '', DISTRIBKV_INTERNAL_TOKEN: '', DISTRIBKV_LOG_LEVEL: '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let reading = false;
    const readStdout = () => {
      if (reading) return;
      reading = true;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (stdout.length < 1024 * 1024) stdout += chunk;
      });
    };
    const hold = options.holdStdoutUntil;
    const holdTimer = hold ? setTimeout(readStdout, HOLD_STDOUT_MS_MAX) : undefined;
    if (!hold) readStdout();
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 1024 * 1024) stderr += chunk;
      if (hold?.test(stderr)) {
        clearTimeout(holdTimer);
        readStdout();
      }
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(holdTimer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** `bin/kv ARGS…`. */
export function runKv(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return runNode([path.join(ROOT, 'bin', 'kv'), ...args], options);
}
