/**
 * Model-based randomized test: thousands of random steps against the engine with a tiny
 * memtable and tiny levels (so flushes and compactions happen all the time), each checked
 * against an in-memory model. The seed is printed; replay a failure with MODEL_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Db, MemoryFileSystem, type Snapshot } from '../../engine/index.ts';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';

const STEPS = Number(process.env.MODEL_STEPS ?? 3000);
const KEYS = 300;
const TINY = { memtableBytes: 2048, tableBytesTarget: 4096, levelOneBytes: 8192, levelSizeMultiplier: 4, blockBytes: 512, l0CompactionTrigger: 2, l0SlowdownTrigger: 4, l0StopTrigger: 6 };

type Model = Map<string, string>;
interface LogEntry {
  seq: number;
  key: string;
  value: string | undefined;
  /** Set for a range delete: it deletes [key, end). */
  end?: string;
}

/** Applies one logged write to the model. */
function applyToModel(model: Model, e: { key: string; value: string | undefined; end?: string }): void {
  if (e.end !== undefined) {
    for (const k of [...model.keys()]) if (Buffer.compare(Buffer.from(k), Buffer.from(e.key)) >= 0 && Buffer.compare(Buffer.from(k), Buffer.from(e.end)) < 0) model.delete(k);
  } else if (e.value === undefined) model.delete(e.key);
  else model.set(e.key, e.value);
}

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function sorted(model: Model): Array<[string, string]> {
  return [...model].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function scan(db: Db, options: Record<string, unknown>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const [k, v] of db.iterator(options)) out.push([dec(k), dec(v)]);
  return out;
}

function expectedScan(model: Model, lower: string | undefined, upper: string | undefined, reverse: boolean, limit: number) {
  let rows = sorted(model).filter(([k]) => (lower === undefined || k >= lower) && (upper === undefined || k < upper));
  if (reverse) rows = rows.reverse();
  return limit < 0 ? rows : rows.slice(0, limit);
}

test('random operations with constant flushes and compactions always match an in-memory model', async (t) => {
  const seed = Number(process.env.MODEL_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`MODEL_SEED=${seed}`);
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const keyName = () => `key-${String(Math.floor(random() * KEYS)).padStart(4, '0')}`;
  /** A range of a few keys to about a tenth of them; sometimes ending between two keys. */
  const randomRange = (): [string, string] => {
    const from = Math.floor(random() * KEYS);
    const width = 1 + Math.floor(random() * random() * KEYS * 0.1);
    const end = `key-${String(Math.min(KEYS, from + width)).padStart(4, '0')}`;
    return [`key-${String(from).padStart(4, '0')}`, random() < 0.3 ? `${end}-` : end];
  };
  let fileSystem = new MemoryFileSystem();
  let db = await Db.open('/db', { fileSystem, ...TINY });
  let model: Model = new Map();
  const log: LogEntry[] = [];
  let syncedSeq = 0;
  let snapshots: Array<{ snap: Snapshot; model: Model }> = [];
  const counts: Record<string, number> = {};
  const totals = { flushes: 0, compactions: 0, dropped: 0 };
  const fail = (step: number, what: string) => `seed ${seed}, step ${step}: ${what}`;

  for (let step = 0; step < STEPS; step++) {
    const action = pick(['put', 'put', 'put', 'del', 'delRange', 'batch', 'batch', 'get', 'scan', 'snapshot', 'release', 'reopen', 'crash', 'compact']);
    counts[action] = (counts[action] ?? 0) + 1;
    switch (action) {
      case 'put':
      case 'del': {
        const key = keyName();
        const sync = random() < 0.3;
        const value = action === 'put' ? `v${step}-${'x'.repeat(Math.floor(random() * 200))}` : undefined;
        const seq = value === undefined ? await db.delete(key, { sync }) : await db.put(key, value, { sync });
        log.push({ seq, key, value });
        if (sync) syncedSeq = seq;
        if (value === undefined) model.delete(key);
        else model.set(key, value);
        break;
      }
      case 'delRange': {
        const [gte, lt] = randomRange();
        const sync = random() < 0.3;
        const seq = await db.deleteRange({ gte, lt }, { sync });
        const e = { seq, key: gte, value: undefined, end: lt };
        log.push(e);
        applyToModel(model, e);
        if (sync) syncedSeq = seq;
        break;
      }
      case 'batch': {
        type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string } | { type: 'delRange'; gte: string; lt: string };
        const ops = Array.from({ length: 1 + Math.floor(random() * 8) }, (_, i): Op => {
          const r = random();
          if (r < 0.08) {
            const [gte, lt] = randomRange();
            return { type: 'delRange', gte, lt };
          }
          return r < 0.3 ? { type: 'del', key: keyName() } : { type: 'put', key: keyName(), value: `b${step}-${i}` };
        });
        const sync = random() < 0.3;
        const lastSeq = await db.batch(ops, { sync });
        ops.forEach((op, i) => {
          const seq = lastSeq - ops.length + 1 + i;
          const e = op.type === 'delRange' ? { seq, key: op.gte, value: undefined, end: op.lt } : { seq, key: op.key, value: op.type === 'put' ? op.value : undefined };
          log.push(e);
          applyToModel(model, e);
        });
        if (sync) syncedSeq = lastSeq;
        break;
      }
      case 'get': {
        for (let i = 0; i < 5; i++) {
          const key = keyName();
          const got = await db.get(key);
          assert.equal(got === undefined ? undefined : dec(got), model.get(key), fail(step, `get ${key}`));
        }
        for (const { snap, model: old } of snapshots) {
          const key = keyName();
          const got = await db.get(key, { snapshot: snap });
          assert.equal(got === undefined ? undefined : dec(got), old.get(key), fail(step, `get ${key} at snapshot ${snap.seq}`));
        }
        break;
      }
      case 'scan': {
        const [a, b] = [keyName(), keyName()].sort();
        const lower = random() < 0.3 ? undefined : a;
        const upper = random() < 0.3 ? undefined : b;
        const reverse = random() < 0.5;
        const limit = random() < 0.5 ? -1 : Math.floor(random() * 20);
        const target = snapshots.length > 0 && random() < 0.5 ? pick(snapshots) : undefined;
        const got = await scan(db, { gte: lower, lt: upper, reverse, limit, snapshot: target?.snap });
        assert.deepEqual(got, expectedScan(target?.model ?? model, lower, upper, reverse, limit), fail(step, `scan ${lower}..${upper} reverse=${reverse} limit=${limit}`));
        break;
      }
      case 'snapshot':
        if (snapshots.length < 4) snapshots.push({ snap: db.snapshot(), model: new Map(model) });
        break;
      case 'release':
        if (snapshots.length > 0) snapshots.splice(Math.floor(random() * snapshots.length), 1)[0]!.snap.release();
        break;
      case 'compact':
        if (random() < 0.2) await db.compactRange();
        break;
      case 'reopen':
      case 'crash': {
        if (random() < 0.85) break; // keep these rarer than the rest, so memtables fill up
        snapshots = [];
        totals.flushes += db.stats().flushes;
        totals.compactions += db.stats().compactions + db.stats().trivialMoves;
        totals.dropped += db.stats().tablesDroppedByRangeDeletes;
        if (action === 'reopen') {
          await db.close();
        } else {
          const crashed = fileSystem.crash(seed + step);
          await db.close();
          fileSystem = crashed;
        }
        db = await Db.open('/db', { fileSystem, ...TINY });
        const report = await db.verify();
        assert.ok(report.ok, fail(step, `verify after ${action}: ${report.problems.join('; ')}`));
        const recovered = db.lastSequence;
        assert.ok(recovered >= syncedSeq, fail(step, `recovered seq ${recovered} < last synced ${syncedSeq}`));
        // What survives is the prefix of the write order up to the recovered sequence number.
        model = new Map();
        const kept = log.filter((e) => e.seq <= recovered);
        log.length = 0;
        log.push(...kept);
        for (const e of kept) applyToModel(model, e);
        syncedSeq = recovered;
        break;
      }
    }
    if (step % 10 === 0 || action === 'crash' || action === 'reopen') {
      assert.deepEqual(await scan(db, {}), sorted(model), fail(step, `full scan after ${action}`));
    }
  }
  const stats = db.stats();
  totals.flushes += stats.flushes;
  totals.compactions += stats.compactions + stats.trivialMoves;
  t.diagnostic(`actions ${JSON.stringify(counts)}; flushes ${totals.flushes}, compactions ${totals.compactions}, tables dropped by range deletes ${totals.dropped + stats.tablesDroppedByRangeDeletes}, levels ${stats.levels.map((l) => l.files).join('/')}`);
  // The point of the tiny sizes: the run must have exercised flushes and compactions.
  assert.ok(totals.flushes >= 20 && totals.compactions >= 5, `too little background work: ${JSON.stringify(totals)}`);
  assert.deepEqual(await scan(db, {}), sorted(model));
  await db.close();
});
