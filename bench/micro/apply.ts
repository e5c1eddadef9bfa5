/**
 * Micro-benchmark: a follower applying the leader's batches (Db.applyBatch) against the
 * leader's own write path (Db.batch) for the same ops. A round applies ROUND_BATCHES batches
 * of BATCH_OPS puts (16-byte keys, 100-byte values) to a fresh database on a MemoryFileSystem
 * (no disk, no fsync) whose memtable is large enough that no flush runs. Cases: batches that
 * follow on exactly (the common case), batches half of which is already applied (a resent
 * frame after a reconnect: trimmed), and Db.batch.
 *
 * Timed in CPU time (process.cpuUsage), best of ROUNDS, not with benny's wall clock: the
 * machine is shared, and another process's load moves wall time far more than CPU time.
 *
 *   node --import tsx bench/micro/apply.ts
 */
import { Db, type BatchOperation } from '../../engine/index.ts';
import { MemoryFileSystem } from '../../engine/fs/memory-file-system.ts';
import { ValueKind } from '../../engine/internal-key.ts';
import { encodeBatch, type BatchOp } from '../../engine/write-batch.ts';
import { decimalKey, isMain, randomBytes, seeded } from './common.ts';

const BATCH_OPS = 100;
const ROUND_BATCHES = 2000;
const ROUNDS = 7;
const KEY_SPACE = 100_000;

interface Case {
  name: string;
  unit: string;
  /** Runs one round on `db`; returns how many ops it applied (the unit counted). */
  round(db: Db): Promise<number>;
}

/** CPU microseconds per op of the best of ROUNDS rounds, each on a fresh database. */
async function measure(c: Case): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const db = await Db.open('/db', { fileSystem: new MemoryFileSystem(), memtableBytes: 1024 * 1024 * 1024, compactionThread: false });
    const before = process.cpuUsage();
    const ops = await c.round(db);
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / ops);
    await db.close();
  }
  return best;
}

/** `ops` as shipped (one buffer per batch, as a follower receives them), the first sequence number set per apply. */
function shippedBatches(ops: BatchOp[]): Uint8Array[] {
  return Array.from({ length: ROUND_BATCHES }, () => encodeBatch(1, ops));
}

function setFirstSeq(batch: Uint8Array, seq: number): void {
  new DataView(batch.buffer, batch.byteOffset).setBigUint64(0, BigInt(seq), true);
}

export async function runApply(): Promise<void> {
  const random = seeded(7);
  const internal: BatchOp[] = Array.from({ length: BATCH_OPS }, () => ({ kind: ValueKind.Put, key: decimalKey(Math.floor(random() * KEY_SPACE)), value: randomBytes(random, 100) }));
  const ops: BatchOperation[] = internal.map((op) => ({ type: 'put', key: op.key, value: op.value }));
  const batches = shippedBatches(internal);
  const cases: Case[] = [
    {
      name: `applyBatch, ${BATCH_OPS} puts following on exactly`,
      unit: 'op',
      async round(db) {
        for (const batch of batches) {
          setFirstSeq(batch, db.lastSequence + 1);
          await db.applyBatch(batch);
        }
        return ROUND_BATCHES * BATCH_OPS;
      },
    },
    {
      name: `applyBatch, ${BATCH_OPS} puts, half already applied`,
      unit: 'new op',
      async round(db) {
        for (const batch of batches) {
          setFirstSeq(batch, Math.max(1, db.lastSequence + 1 - BATCH_OPS / 2));
          await db.applyBatch(batch);
        }
        return (ROUND_BATCHES * BATCH_OPS) / 2;
      },
    },
    {
      name: `Db.batch, the same ${BATCH_OPS} puts (the leader's path)`,
      unit: 'op',
      async round(db) {
        for (let i = 0; i < ROUND_BATCHES; i++) await db.batch(ops);
        return ROUND_BATCHES * BATCH_OPS;
      },
    },
  ];
  for (const c of cases) console.log(`  ${c.name}: ${((await measure(c)) * 1000).toFixed(0)} ns of CPU per ${c.unit} (best of ${ROUNDS})`);
}

if (isMain(import.meta.url)) await runApply();
