/**
 * Running iproute2's `ip`: one command, or many through `ip -batch -` (one process for a
 * whole table of neighbor entries), in the root namespace or, with `-n NAME`, in another.
 * Failures carry the command and ip's own message. The `Sync` forms are for cleanup in
 * signal and exit handlers, where nothing asynchronous runs any more.
 */
import { execFileSync, spawn } from 'node:child_process';
import { IP_COMMAND_TIMEOUT_MS } from './constants.ts';

export class IpCommandError extends Error {
  readonly stderr: string;
  constructor(args: readonly string[], stderr: string, options?: { cause?: unknown }) {
    super(`ip ${args.join(' ')} failed: ${stderr.trim() || 'no message'}`, options);
    this.name = 'IpCommandError';
    this.stderr = stderr;
  }
}

/** Runs `ip ARGS…` (with `input` on its stdin, if given) and resolves to its stdout. */
export function ip(args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { timeout: IP_COMMAND_TIMEOUT_MS, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => reject(new IpCommandError(args, error.message, { cause: error })));
    child.once('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new IpCommandError(args, stderr || `exited with ${code ?? signal}`));
    });
    if (input !== undefined) {
      // If ip exits before reading all of it (it failed), the write fails with EPIPE; the
      // failure is reported by 'close' above, with ip's own message.
      child.stdin!.once('error', () => {});
      child.stdin!.end(input);
    }
  });
}

/** Runs each line of `commands` through `ip -batch -`, in `namespace` (root when undefined). */
export async function ipBatch(namespace: string | undefined, commands: readonly string[]): Promise<void> {
  if (commands.length === 0) return;
  await ip([...namespaceArgs(namespace), '-batch', '-'], `${commands.join('\n')}\n`);
}

/** `ip ARGS…` for cleanup: never throws; `error` is ip's message when it failed. */
export function ipSync(args: readonly string[]): { stdout: string; error?: string } {
  try {
    return { stdout: execFileSync('ip', args, { timeout: IP_COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' }) };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return { stdout: '', error: `ip ${args.join(' ')}: ${stderr || (error as Error).message}` };
  }
}

export function namespaceArgs(namespace: string | undefined): string[] {
  return namespace === undefined ? [] : ['-n', namespace];
}

/** Names in `ip netns list` (which may print `name (id: 3)`). */
export function parseNamespaceList(text: string): string[] {
  return text.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter((name) => name.length > 0);
}
