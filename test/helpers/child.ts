/**
 * Child-process helpers for tests: spawn TypeScript with `node --import tsx` (so a kill hits
 * the real process, not an npx wrapper), read its stdout line by line, and always clean up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit } from './exit-cleanup.ts';

export interface Child {
  process: ChildProcess;
  lines: string[];
  /** Resolves once a line matching `predicate` has been printed (or rejects at the deadline or exit). */
  waitForLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  killOnExit(child);
  const lines: string[] = [];
  let partial = '';
  let errText = '';
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of watchers) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (errText.length < 64 * 1024) errText += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of watchers) w();
    });
  });
  function waitForLine(predicate: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      let scanned = 0;
      const check = () => {
        for (; scanned < lines.length; scanned++) {
          if (predicate(lines[scanned]!)) {
            done();
            resolve(lines[scanned]!);
            return;
          }
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`child exited before the line appeared; stderr: ${errText}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching line within ${timeoutMs} ms; stderr: ${errText}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });
  }
  return { process: child, lines, waitForLine, exited, stderr: () => errText };
}

/** Kills the child with SIGKILL if it is still running and waits for it to exit. */
export async function killHard(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  await child.exited;
}

/** A fresh directory under the OS temp dir, and its removal. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `distribkv-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
