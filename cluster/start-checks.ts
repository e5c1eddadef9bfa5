/**
 * Checks a node (and `npm start`) makes before it creates any file, so a mistake costs nothing
 * and is told in one line that says what to do: the port must be free, the data directory
 * creatable and writable. And the one-line words for start-up failures found later (another
 * process holds the data directory's lock).
 *
 * A free port can still be taken between the check and the node's own listen; the listen then
 * fails with the same message (`describeStartFailure`).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseAddress } from '../protocol/address.ts';

/** A start-up failure whose message says what to do; never sent on the wire. */
export class StartError extends Error {
  readonly code = 'START_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

/**
 * node:util parseArgs's complaint as one line: its messages run over lines (the problem, then
 * advice such as `--flag=-5` for a value starting with a dash), and each line counts.
 */
export function argumentProblem(error: unknown): string {
  return (error as Error).message.split('\n').map((line) => line.trim().replace(/\.$/, '')).filter(Boolean).join('; ');
}

/** Whether `host:port` can be listened on now (nothing else holds the port). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: host.replace(/^\[|\]$/g, ''), port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws a one-line START_FAILED if `bind`'s host and `address`'s port cannot be listened on. */
export async function checkPort(bind: string, address: string): Promise<void> {
  const { port } = parseAddress(address)!;
  if (!(await portFree(bind, port))) throw portInUse(bind, port);
}

function portInUse(bind: string, port: number): StartError {
  return new StartError(`${bind}:${port} is already in use (another node, or an npm start still running?); stop it, or start this node with another --node`);
}

/**
 * Throws a one-line START_FAILED unless `dir` exists as a writable directory or can be created:
 * its nearest existing ancestor must be a writable directory. (Node's recursive mkdir says
 * ENOENT on a read-only file system, which hides the cause.)
 */
export function checkDataDir(dir: string): void {
  let existing = path.resolve(dir);
  while (!existsSync(existing)) existing = path.dirname(existing);
  if (!statSync(existing).isDirectory()) throw new StartError(`data directory ${dir}: ${existing} is not a directory; pass --data DIR naming a directory`);
  try {
    accessSync(existing, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EROFS' ? 'is on a read-only file system' : code === 'EACCES' || code === 'EPERM' ? 'is not writable by this user' : `cannot be written (${code})`;
    throw new StartError(`data directory ${dir}: ${existing} ${why}; pass --data DIR on a writable disk`);
  }
}

/** The one line to say for a start-up failure, and whether it is expected (no stack needed). */
export function describeStartFailure(error: unknown, context: { address: string; bind: string; dataDir: string | undefined }): { message: string; expected: boolean } {
  const code = (error as { code?: unknown }).code;
  if (code === 'EADDRINUSE') return { message: portInUse(context.bind, parseAddress(context.address)!.port).message, expected: true };
  if (code === 'EADDRNOTAVAIL') return { message: `cannot listen on ${context.bind}: no such address on this machine; pass --bind with one of its addresses`, expected: true };
  if (code === 'EACCES' && (error as { syscall?: unknown }).syscall === 'listen') return { message: `not allowed to listen on ${context.address} (ports below 1024 need privileges); choose another --node port`, expected: true };
  if (code === 'DB_LOCKED') return { message: `data directory ${context.dataDir} is in use by another process (a node still running on it?); stop that node, or give this one its own --data`, expected: true };
  if (code === 'START_FAILED' || code === 'CONFIG_INVALID') return { message: (error as Error).message, expected: true };
  return { message: `node failed to start: ${(error as Error).message ?? String(error)}`, expected: false };
}
