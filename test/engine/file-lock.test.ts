/**
 * The directory lock on the real file system (engine/fs/file-lock.ts): contended by real
 * processes, it has at most one holder; a LOCK naming our own pid is no reason to take it;
 * and a release never frees another holder's lock.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Db } from '../../engine/index.ts';
import { NodeFileSystem } from '../../engine/fs/node-file-system.ts';
import { tempDir } from '../helpers/child.ts';

const ROUNDS = Number(process.env.LOCK_RACE_ROUNDS ?? 300);
const CONTENDERS = 3;
/** No process has this pid (Linux caps pids at 2^22), so a LOCK naming it is stale. */
const DEAD_PID = 999_999_999;
const contenderScript = new URL('./lock-contender.ts', import.meta.url).pathname;

interface Reply {
  round: number;
  outcome: string;
  /** The error's message, when the lock was refused. */
  message?: string;
}

/** A contender process and the replies it sent, awaited in order. */
function startContender(lockPath: string): { child: ChildProcess; next(): Promise<Reply> } {
  const child = fork(contenderScript, [lockPath], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies: Reply[] = [];
  const waiting: Array<(r: Reply) => void> = [];
  child.on('message', (r: Reply) => {
    const w = waiting.shift();
    if (w) w(r);
    else replies.push(r);
  });
  const next = () =>
    new Promise<Reply>((resolve, reject) => {
      const r = replies.shift();
      if (r) return resolve(r);
      if (child.exitCode !== null) return reject(new Error(`contender exited with code ${child.exitCode}`));
      waiting.push(resolve);
    });
  return { child, next };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

test(`${CONTENDERS} processes racing ${ROUNDS} times to take over a stale LOCK never both hold it`, async (t) => {
  const dir = tempDir('lock-race');
  t.after(() => dir.remove());
  const lockPath = join(dir.path, 'LOCK');
  const contenders = Array.from({ length: CONTENDERS }, () => startContender(lockPath));
  t.after(async () => {
    for (const c of contenders) await stop(c.child);
  });
  for (const c of contenders) assert.equal((await c.next()).outcome, 'ready');
  let doubleHolders = 0;
  let noHolder = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // A LOCK left by a process that died: every contender sees a stale lock to take over.
    writeFileSync(lockPath, `${DEAD_PID}\n`);
    for (const c of contenders) c.child.send({ type: 'try', round });
    const outcomes = await Promise.all(contenders.map((c) => c.next()));
    for (const o of outcomes) assert.ok(o.round === round && (o.outcome === 'got' || o.outcome === 'busy'), `round ${round}: ${o.outcome}`);
    const holders = outcomes.filter((o) => o.outcome === 'got').length;
    if (holders > 1) doubleHolders++;
    if (holders === 0) noHolder++;
    for (const c of contenders) c.child.send({ type: 'release', round });
    await Promise.all(contenders.map((c) => c.next()));
  }
  t.diagnostic(`${ROUNDS} rounds: ${doubleHolders} with two or more holders, ${noHolder} with none`);
  assert.equal(doubleHolders, 0, `${doubleHolders} of ${ROUNDS} rounds had two or more holders`);
  assert.equal(noHolder, 0, `${noHolder} of ${ROUNDS} rounds had no holder although the LOCK was stale`);
});

test('a LOCK held by another process is refused even when it names our own pid (two containers, both pid 1)', async (t) => {
  const dir = tempDir('lock-pid');
  t.after(() => dir.remove());
  const lockPath = join(dir.path, 'LOCK');
  const other = startContender(lockPath);
  t.after(() => stop(other.child));
  assert.equal((await other.next()).outcome, 'ready');
  other.child.send({ type: 'try', round: 0 });
  assert.equal((await other.next()).outcome, 'got');
  // What a holder in another pid namespace, whose pid is ours, would have written.
  writeFileSync(lockPath, `${process.pid}\n`);
  await assert.rejects(Db.open(dir.path), (err: Error & { code?: string }) => err.code === 'DB_LOCKED');
  assert.throws(() => new NodeFileSystem().lock(lockPath), (err: Error & { code?: string }) => err.code === 'DB_LOCKED');
});

test("a release, even repeated, never frees another holder's lock", async (t) => {
  const dir = tempDir('lock-release');
  t.after(() => dir.remove());
  const lockPath = join(dir.path, 'LOCK');
  const fs = new NodeFileSystem();
  const mine = fs.lock(lockPath);
  const other = startContender(lockPath);
  t.after(() => stop(other.child));
  assert.equal((await other.next()).outcome, 'ready');
  other.child.send({ type: 'try', round: 0 });
  assert.equal((await other.next()).outcome, 'busy', 'the other process cannot take a held lock');
  mine.release();
  other.child.send({ type: 'try', round: 1 });
  assert.equal((await other.next()).outcome, 'got', 'the other process takes it once released');
  mine.release();
  assert.throws(() => fs.lock(lockPath), (err: Error & { code?: string }) => err.code === 'DB_LOCKED', 'our second release freed the other holder');
  const third = startContender(lockPath);
  t.after(() => stop(third.child));
  assert.equal((await third.next()).outcome, 'ready');
  third.child.send({ type: 'try', round: 2 });
  assert.equal((await third.next()).outcome, 'busy', 'a third process sees the lock held');
});

test('the lock message names the holder written into LOCK', async (t) => {
  const dir = tempDir('lock-message');
  t.after(() => dir.remove());
  const db = await Db.open(dir.path);
  t.after(() => db.close());
  const other = startContender(join(dir.path, 'LOCK'));
  t.after(() => stop(other.child));
  assert.equal((await other.next()).outcome, 'ready');
  other.child.send({ type: 'try', round: 0 });
  const reply = await other.next();
  assert.equal(reply.outcome, 'busy');
  assert.match(reply.message!, new RegExp(`is locked by another process \\(pid ${process.pid} on host `));
});
