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
 * next leader: deleting an absent key is harmless. `cleaned` is proposed only once the deletes
 * are held by the shard's in-sync set, with the shard's term: a new leader never holds keys its
 * predecessor reported deleted, and a deposed leader's step is refused. A cleanup that failed
 * is tried again after MIGRATION_CLEANUP_RETRY_MS, without waiting for a new metadata (there
 * may be none: the migration waits on this step).
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
import type { LeaderReplication } from '../replication/leader.ts';
import type { WriteGate } from '../replication/write-gate.ts';
import { deleteMatching } from './delete-matching.ts';

export interface CleanerContext {
  shard: string;
  db(): Db;
  gate: WriteGate;
  /** This shard's leadership the cleanup runs under: its term, and when its writes are durable. */
  leader: LeaderReplication;
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
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Moves (`migration:receiver`) whose keys this leadership deleted: a retry only has to wait for them to be durable and report. */
  private readonly emptied = new Set<string>();
  /** Keys deleted by the cleanups this leader ran, for /internal/state. */
  deleted = 0;

  constructor(private readonly ctx: CleanerContext) {}

  /** Cleans what the metadata says is done and not cleaned; call on every new metadata. */
  update(): void {
    if (this.retired) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.clean()
      .then(() => void (this.failures = 0), (error: unknown) => {
        this.failures++;
        if (this.failures === 1 || this.failures % 20 === 0) this.ctx.log('warn', 'migration cleanup failed; trying again', { failures: this.failures, retryMs: MIGRATION_CLEANUP_RETRY_MS, ...errorFields(error) });
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          this.update();
        }, MIGRATION_CLEANUP_RETRY_MS).unref();
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
    clearTimeout(this.retry);
    await this.running;
  }

  /** Stopped, or its leadership is over. */
  private get retired(): boolean {
    return this.stopped || this.ctx.leader.isStopped;
  }

  private async clean(): Promise<void> {
    const migration = this.ctx.metadata().migration;
    if (!migration) return;
    const mine = migration.moves.filter((m) => m.giver === this.ctx.shard);
    const ready = mine.filter((m) => m.state === 'done' && !m.cleaned);
    if (ready.length === 0) return;
    const write = (ops: BatchOperation[]) => this.ctx.gate.write(() => this.ctx.db().batch(ops));
    const term = this.ctx.leader.term;
    if (migration.kind === 'remove' && migration.shard === this.ctx.shard) {
      // Every key leaves: wait for all the moves, then one range delete and the largest key (which the range leaves out).
      if (!mine.every((m) => m.state === 'done')) return;
      if (!this.emptied.has(`${migration.id}:*`)) {
        await write([{ type: 'delRange', gte: new Uint8Array(0), lt: KEY_MAX }, { type: 'del', key: KEY_MAX }]);
        this.emptied.add(`${migration.id}:*`);
        this.ctx.log('info', 'removed shard emptied', { shard: this.ctx.shard, migration: migration.id });
      }
    } else {
      for (const move of ready) {
        if (this.emptied.has(`${migration.id}:${move.receiver}`)) continue;
        const moved = moveFilter(this.ctx.metadata().ring, migration.to, this.ctx.metadata().vnodes, move.giver, move.receiver);
        const count = await deleteMatching(this.ctx.db(), moved, write, () => this.retired);
        if (this.retired) return;
        this.emptied.add(`${migration.id}:${move.receiver}`);
        this.deleted += count;
        this.ctx.log('info', 'moved keys deleted', { shard: this.ctx.shard, receiver: move.receiver, migration: migration.id, keys: count });
      }
    }
    if (this.retired) return;
    // Durable first: a new leader of this shard must not hold keys reported deleted.
    await this.ctx.leader.readBarrier(this.ctx.db().lastSequence);
    for (const move of ready) {
      try {
        await this.ctx.propose({ type: 'move', id: migration.id, giver: move.giver, receiver: move.receiver, step: 'cleaned', term });
      } catch (error) {
        if ((error as ClusterError).code !== 'NO_CHANGE') throw error;
      }
    }
  }
}
