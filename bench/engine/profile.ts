/**
 * Where the time goes: runs one batched workload of the engine benchmark on this engine alone,
 * under `node --cpu-prof`, and prints each thread's functions by self time (the event loop and
 * the compaction thread each write a profile). The workloads are the two targets of issue 4
 * that a run of `npm run bench:engine` misses: batched fillrandom and batched readrandom.
 *
 *   node --import tsx bench/engine/profile.ts [fill|read] [--n 1000000] [--top 25]
 *
 * The .cpuprofile files stay in a temporary directory, whose path is printed, for DevTools.
 * Caveat: a sampling profiler interrupts system calls, so `read` and `writeBuffer` (pread,
 * write) are overstated against the JavaScript around them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Db } from '../../engine/index.ts';
import { keyOf, permutation, Random, ValuePool } from './keys.ts';
import { BATCH_OPS } from './store.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: 'string', default: '1000000' }, top: { type: 'string', default: '25' }, child: { type: 'string' } },
});
const workload = positionals[0] ?? 'fill';
if (workload !== 'fill' && workload !== 'read') throw new Error(`workload must be fill or read, got ${workload}`);
const n = Number(values.n);
if (!Number.isSafeInteger(n) || n < BATCH_OPS) throw new Error(`--n must be an integer of at least ${BATCH_OPS}`);

if (values.child !== undefined) await runWorkload(values.child);
else profile();

/** The parent: runs the workload in a child under --cpu-prof, then summarizes its profiles. */
function profile(): void {
  const out = mkdtempSync(join(tmpdir(), 'distribkv-profile-'));
  const dataDir = join(out, 'db');
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${out}`, '--import', 'tsx', script, workload, '--n', String(n), '--child', dataDir], { stdio: 'inherit' });
  rmSync(dataDir, { recursive: true, force: true });
  if (child.status !== 0) throw new Error(`the profiled run failed (status ${child.status})`);
  const top = Number(values.top);
  for (const file of readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const all = selfTimes(JSON.parse(readFileSync(join(out, file), 'utf8')) as Profile);
    const rows = all.filter(([name]) => name !== '(idle)');
    const busy = rows.reduce((sum, [, ms]) => sum + ms, 0);
    const idle = all.reduce((sum, [, ms]) => sum + ms, 0) - busy;
    // tsx's loader threads write profiles too; they are idle after start-up.
    if (busy < idle / 4) continue;
    console.log(`\n${file}: ${busy.toFixed(0)} ms busy, ${idle.toFixed(0)} ms idle`);
    for (const [name, ms] of rows.slice(0, top)) console.log(`  ${((ms / busy) * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${name}`);
  }
  console.log(`\nprofiles: ${out}`);
}

/** Self time per function, in ms, largest first. */
function selfTimes(p: Profile): Array<[string, number]> {
  const byNode = new Map<number, number>();
  p.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byName = new Map<string, number>();
  for (const node of p.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? ` ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'}${where}`;
    byName.set(name, (byName.get(name) ?? 0) + (byNode.get(node.id) ?? 0) / 1000);
  }
  return [...byName].sort((a, b) => b[1] - a[1]);
}

/** The child: the workload itself, timed and printed. */
async function runWorkload(dir: string): Promise<void> {
  const random = new Random(301);
  const order = permutation(n, random);
  const values = new ValuePool(random);
  let db = await Db.open(dir);
  const fillStarted = performance.now();
  for (let i = 0; i < n; i += BATCH_OPS) {
    const ops = [];
    for (let j = i; j < Math.min(n, i + BATCH_OPS); j++) ops.push({ type: 'put' as const, key: keyOf(order[j]!), value: values.next() });
    await db.batch(ops);
  }
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  if (workload === 'fill') {
    console.log(`fillrandom, batches of ${BATCH_OPS}: ${Math.round(n / fillSeconds).toLocaleString('en-US')} ops/s`);
    await db.close();
    return;
  }
  await db.close();
  db = await Db.open(dir);
  const started = performance.now();
  let found = 0;
  for (let i = 0; i < n; i += BATCH_OPS) {
    const keys = [];
    for (let j = i; j < Math.min(n, i + BATCH_OPS); j++) keys.push(keyOf(random.uniform(n)));
    for (const v of await db.getMany(keys)) if (v !== undefined) found++;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`readrandom, batches of ${BATCH_OPS}: ${Math.round(n / seconds).toLocaleString('en-US')} ops/s (${found} found; the fill before it is in the profile too)`);
  await db.close();
}
