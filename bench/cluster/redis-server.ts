/**
 * Redis for the comparison: finds `redis-server` and `redis-benchmark` on PATH, starts one
 * redis-server as a child of the benchmark (127.0.0.1, a free port, a fresh temporary
 * directory, stopped with the benchmark's other children), loads the keys redis-benchmark
 * will read, and sends it single commands. Speaks RESP over one socket itself, so nothing
 * else (redis-cli, a client package) is needed.
 *
 * The server's settings, and why:
 * - `appendonly yes`, `appendfsync no` to start with: each write reaches the AOF through the
 *   OS before its reply, not fsynced, which is the promise our PUT without `sync=true` makes
 *   (the WAL written, not fsynced). The durable comparison switches to `appendfsync always`
 *   (`CONFIG SET`), our `sync=true`.
 * - `save ""` and `auto-aof-rewrite-percentage 0`: no snapshot or AOF rewrite forks a child in
 *   the middle of a run (our engine's flushes and compactions do run, on our side).
 */
import { accessSync, constants, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePorts } from './local-cluster.ts';
import type { Closer } from './arena.ts';
import type { Child, ProcessGroup } from './processes.ts';

export interface RedisTools {
  server: string;
  benchmark: string;
}

/** What the benchmark prints when Redis is missing. */
export const REDIS_MISSING = 'Redis is not on PATH (redis-server and redis-benchmark); to compare with it: apt-get install redis-server';

/** The key redis-benchmark's `-r N` makes of index i (`key:__rand_int__`, 12 digits). */
export function redisKey(index: number): string {
  return `key:${String(index).padStart(12, '0')}`;
}

const READY_WAIT_MS = 10_000;
const READY_POLL_MS = 50;
/** Commands written to the socket before waiting for their replies while loading keys. */
const PRELOAD_CHUNK = 1000;
/** Bound on one exchange of commands (a chunk of the preload, a CONFIG SET). */
const COMMAND_TIMEOUT_MS = 30_000;

/** Both programs' paths, or undefined if either is not on PATH. */
export function findRedis(pathText = process.env['PATH'] ?? ''): RedisTools | undefined {
  const find = (name: string) => pathText.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, name)).find(isExecutable);
  const server = find('redis-server');
  const benchmark = find('redis-benchmark');
  return server && benchmark ? { server, benchmark } : undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RedisServer {
  port: number;
  child: Child;
  /** Sends one command, resolves to the first line of its reply; a `-ERR` reply rejects. */
  command(...args: string[]): Promise<string>;
  /** Sets keys `redisKey(0)` … `redisKey(keys - 1)` to `valueBytes` bytes each. */
  preload(keys: number, valueBytes: number): Promise<void>;
}

export async function startRedis(group: ProcessGroup, tools: RedisTools, closers: Closer[]): Promise<RedisServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-bench-redis-'));
  const removeAtExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeAtExit);
  closers.push(async () => {
    await group.stopAll();
    process.off('exit', removeAtExit);
    await rm(dir, { recursive: true, force: true });
  });
  const [port] = await freePorts(1);
  const child = group.spawnProgram(`redis-server 127.0.0.1:${port}`, 'redis', tools.server, [
    '--port', String(port!), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', '',
    '--save', '', '--appendonly', 'yes', '--appendfsync', 'no', '--auto-aof-rewrite-percentage', '0',
  ]);
  const server: RedisServer = {
    port: port!,
    child,
    command: (...args) => exchange(port!, [args]).then((replies) => replies[0]!),
    preload: (keys, valueBytes) => preload(port!, keys, valueBytes),
  };
  await waitReady(server);
  return server;
}

async function waitReady(server: RedisServer): Promise<void> {
  const deadline = Date.now() + READY_WAIT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (!server.child.running) throw new Error(`redis-server exited before it answered:\n${server.child.stderr}`);
    try {
      if ((await server.command('PING')) === '+PONG') return;
    } catch (error) {
      last = error;
    }
    await delay(READY_POLL_MS);
  }
  throw new Error(`redis-server on port ${server.port} did not answer PING within ${READY_WAIT_MS} ms: ${(last as Error | undefined)?.message ?? 'no reply'}`);
}

async function preload(port: number, keys: number, valueBytes: number): Promise<void> {
  const value = 'a'.repeat(valueBytes);
  for (let at = 0; at < keys; at += PRELOAD_CHUNK) {
    const commands = Array.from({ length: Math.min(PRELOAD_CHUNK, keys - at) }, (_, i) => ['SET', redisKey(at + i), value]);
    await exchange(port, commands);
  }
}

/** A command as RESP: an array of bulk strings. */
export function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/**
 * Sends `commands` pipelined on a fresh connection and resolves to the first line of each reply.
 * REQUIRES: every reply is a single line (status, error or integer), which holds for SET,
 * PING and CONFIG SET, the only commands sent.
 */
function exchange(port: number, commands: readonly (readonly string[])[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const replies: string[] = [];
    let pending = '';
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(COMMAND_TIMEOUT_MS, () => fail(new Error(`redis on port ${port}: no reply within ${COMMAND_TIMEOUT_MS} ms`)));
    socket.once('error', fail);
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let end: number;
      while ((end = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (line.startsWith('-')) return fail(new Error(`redis on port ${port} answered ${JSON.stringify(line)} to ${commands[replies.length]?.[0]}`));
        replies.push(line);
      }
      if (replies.length === commands.length) {
        socket.end();
        resolve(replies);
      }
    });
    socket.write(commands.map(encodeCommand).join(''));
  });
}
