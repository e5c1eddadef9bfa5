/**
 * Deletes every key a predicate matches, by point deletes in batches (docs/resharding.md).
 *
 * Why not a range delete: keys are placed by the hash of the key, so the keys one shard hands
 * another are scattered over the whole key space; no key range holds them and nothing else.
 * (A removed shard, whose keys all leave, is emptied by one range delete instead: cleaner.ts.)
 *
 * The scan reads at one snapshot, so keys written after it starts are left alone: callers only
 * use it on keys no client writes reach (the giver after a move is done; the receiver before
 * the move's copy starts).
 */
import type { BatchOperation, Db } from '../../engine/index.ts';
import { MIGRATION_DELETE_BATCH_OPS } from '../limits.ts';
import { TurnKeeper } from './turns.ts';

/** Deletes each key `matches`, `MIGRATION_DELETE_BATCH_OPS` per batch, each batch through `write`; resolves to how many. */
export async function deleteMatching(
  db: Db,
  matches: (key: Uint8Array) => boolean,
  write: (ops: BatchOperation[]) => Promise<unknown> = (ops) => db.batch(ops),
  stopped: () => boolean = () => false,
): Promise<number> {
  const snapshot = db.snapshot();
  const iterator = db.iterator({ snapshot });
  let deleted = 0;
  const turns = new TurnKeeper();
  try {
    for (;;) {
      await turns.pause();
      const entries = await iterator.nextBatch(MIGRATION_DELETE_BATCH_OPS);
      if (entries.length === 0 || stopped()) break;
      const ops: BatchOperation[] = [];
      for (const [key] of entries) if (matches(key)) ops.push({ type: 'del', key });
      if (ops.length > 0) await write(ops);
      deleted += ops.length;
    }
  } finally {
    await iterator.return();
    snapshot.release();
  }
  return deleted;
}
