/**
 * The giving shard's cleanup after its moves are done (docs/resharding.md), on its leader: the
 * keys it handed over are deleted from its engine (through its log, so its followers delete
 * them too), and the move is marked `cleaned`. The migration ends when every move is done and
 * cleaned.
 *
 *   a shard that gives part of its keys (a shard add): point deletes of the moved keys, which
 *   the hash placement scatters over the whole key space (delete-matching.ts);
 *   a shard that is removed: once all its moves are done, every key it holds has left, so one
 *   range delete over the whole key space empties it, whatever its size.
 *
 * No client write reaches these keys any more (the write gate refuses keys the shard does not
 * own), so the scan cannot race one. A cleanup cut short (the leader failed) is redone by the
 * next leader: deleting an absent key is harmless.
 *
 * Concurrency: one cleanup at a time; `update` on each new metadata, `stop` waits for the one
 * in progress.
 */
import type { BatchOperation, Db } from '../../engine/index.ts';
import { KEY_BYTES_MAX } from '../../protocol/limits.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { moveFilter } from '../../protocol/placement.ts';
import type { Command, Metadata } from '../control/metadata.ts';
import { MIGRATION_CLEANUP_RETRY_MS } from '../limits.ts';
import { errorFields, type Log } from '../log.ts';
import type { WriteGate } from '../replication/write-gate.ts';
import { deleteMatching } from './delete-matching.ts';

export interface CleanerContext {
  shard: string;
  db(): Db;
  gate: WriteGate;
  metadata(): Metadata;
  propose(command: Command): Promise<Metadata>;
  log: Log;
}

/** Every key sorts at or after the empty key and at or before this one (the largest key a node takes). */
const KEY_MAX = new Uint8Array(KEY_BYTES_MAX).fill(0xff);

export class MigrationCleaner {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Keys deleted by the cleanups this leader ran, for /internal/state. */
  deleted = 0;

  constructor(private readonly ctx: CleanerContext) {}

  /** Cleans what the metadata says is done and not cleaned; call on every new metadata. */
  update(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.clean()
      .catch((error: unknown) => {
        this.ctx.log('warn', 'migration cleanup failed; it runs again in a moment', errorFields(error));
        // No newer metadata may ever come (the failed step was the last one): retry on a timer too.
        setTimeout(() => this.update(), MIGRATION_CLEANUP_RETRY_MS).unref();
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.update();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async clean(): Promise<void> {
    const migration = this.ctx.metadata().migration;
    if (!migration) return;
    const mine = migration.moves.filter((m) => m.giver === this.ctx.shard);
    const ready = mine.filter((m) => m.state === 'done' && !m.cleaned);
    if (ready.length === 0) return;
    const write = (ops: BatchOperation[]) => this.ctx.gate.write(() => this.ctx.db().batch(ops));
    if (migration.kind === 'remove' && migration.shard === this.ctx.shard) {
      // Every key leaves: wait for all the moves, then one range delete and the largest key (which the range leaves out).
      if (!mine.every((m) => m.state === 'done')) return;
      await write([{ type: 'delRange', gte: new Uint8Array(0), lt: KEY_MAX }, { type: 'del', key: KEY_MAX }]);
      this.ctx.log('info', 'removed shard emptied', { shard: this.ctx.shard, migration: migration.id });
    } else {
      for (const move of ready) {
        if (this.stopped) return;
        const moved = moveFilter(this.ctx.metadata().ring, migration.to, this.ctx.metadata().vnodes, move.giver, move.receiver);
        const count = await deleteMatching(this.ctx.db(), moved, write, () => this.stopped);
        this.deleted += count;
        this.ctx.log('info', 'moved keys deleted', { shard: this.ctx.shard, receiver: move.receiver, migration: migration.id, keys: count });
      }
    }
    if (this.stopped) return;
    for (const move of ready) {
      try {
        await this.ctx.propose({ type: 'move', id: migration.id, giver: move.giver, receiver: move.receiver, step: 'cleaned' });
      } catch (error) {
        if ((error as ClusterError).code !== 'NO_CHANGE') throw error;
      }
    }
  }
}
