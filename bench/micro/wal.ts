/**
 * Micro-benchmark: the WAL's append path (engine/wal.ts). Frame: LogWriter.frame of one
 * single-put batch (the record's checksum and header, no I/O), into a new buffer and into the
 * writer's reused one. Append: WalWriter.append of the same batch to a real file under
 * os.tmpdir() (frame plus one write syscall, no fsync), which is what every write group pays.
 *
 *   node --import tsx bench/micro/wal.ts
 */
import b from 'benny';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../../engine/fs/node-file-system.ts';
import { ValueKind } from '../../engine/internal-key.ts';
import { LogWriter } from '../../engine/log/log-writer.ts';
import { WalWriter } from '../../engine/wal.ts';
import { encodeBatch } from '../../engine/write-batch.ts';
import { BENNY_CONFIG, decimalKey, isMain, printPerItem, randomBytes, seeded, sink } from './common.ts';

const APPENDS_PER_CALL = 100;

export async function runWal(): Promise<void> {
  const batch = encodeBatch(1, [{ kind: ValueKind.Put, key: decimalKey(42), value: randomBytes(seeded(13), 100) }]);
  const dir = mkdtempSync(join(tmpdir(), 'distribkv-micro-wal-'));
  try {
    const wal = await WalWriter.create(new NodeFileSystem(), dir, 1);
    const log = new LogWriter(0);
    const frameName = `frame a ${batch.length}-byte batch into a new buffer`;
    const reusedName = `frame a ${batch.length}-byte batch into a reused buffer`;
    const appendName = `append a ${batch.length}-byte batch to a file`;
    const summary = await b.suite(
      'WAL',
      BENNY_CONFIG,
      b.add(frameName, () => {
        sink.value += log.frame(batch).length;
      }),
      b.add(reusedName, () => {
        sink.value += log.frameReused(batch).length;
      }),
      b.add(appendName, () => {
        for (let i = 0; i < APPENDS_PER_CALL; i++) wal.append(batch);
      }),
      b.cycle(),
    );
    wal.close();
    printPerItem(summary, [
      { name: frameName, items: 1, unit: 'record' },
      { name: reusedName, items: 1, unit: 'record' },
      { name: appendName, items: APPENDS_PER_CALL, unit: 'append' },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runWal();
