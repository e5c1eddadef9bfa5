/**
 * Cleanup that must run however a test process ends: normally, by an uncaught error, or by
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP. A resource that lives outside the process (a network
 * namespace, a child that would outlive it) registers a synchronous cleanup here and
 * unregisters it once released the normal way.
 *
 * While at least one cleanup is registered, this module handles SIGINT, SIGTERM and SIGHUP:
 * it runs every cleanup, then exits with 128 + the signal's number, as the default action
 * would have. With none registered it installs no handler, so a process that never uses it
 * keeps Node's default signal behaviour. Cleanups run at most once each, newest first, and
 * must be synchronous: on 'exit' the event loop no longer runs.
 * SIGKILL cannot be caught; what a killed run leaves, the next run removes (the host
 * harness does so by the owner pid in its names).
 */
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const onSignal = (signal: NodeJS.Signals) => {
  runExitCleanups();
  process.exit(128 + constants.signals[signal]);
};

let installed = false;

/** Registers `cleanup`; returns the function that unregisters it (without running it). */
export function onExitCleanup(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  setHandlers();
  return () => {
    cleanups.delete(cleanup);
    setHandlers();
  };
}

/** Handlers are installed exactly while some cleanup is registered. */
function setHandlers(): void {
  const wanted = cleanups.size > 0;
  if (wanted === installed) return;
  installed = wanted;
  const method = wanted ? 'on' : 'off';
  process[method]('exit', runExitCleanups);
  for (const s of SIGNALS) process[method](s, onSignal);
}

/** Runs every registered cleanup once, newest first; a failing one is reported and the rest still run. */
export function runExitCleanups(): void {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch (error) {
      process.stderr.write(`exit cleanup failed: ${(error as Error).stack ?? String(error)}\n`);
    }
  }
  setHandlers();
}

/**
 * SIGKILLs `child` if this process ends first (a test file ended by the runner's timeout, which
 * SIGTERMs it, or by Ctrl-C): a hung file's nodes must not outlive it, holding ports and CPU
 * that the files after it need. Released when the child exits.
 */
export function killOnExit(child: ChildProcess): void {
  const release = onExitCleanup(() => child.kill('SIGKILL'));
  child.once('exit', release);
}
