/**
 * The compaction thread's entry point: runs the jobs compaction-thread.ts sends, one at a
 * time, with the same code as an inline compaction (runCompaction), over its own file system
 * handle and table cache. It holds no state between jobs but the thread itself; it closes
 * every input table after a job, since the owning thread deletes them once the edit is logged.
 */
import { parentPort } from 'node:worker_threads';
import { NodeFileSystem } from '../fs/node-file-system.ts';
import { COMPACTION_READAHEAD_BYTES } from '../options.ts';
import { joinPath } from '../fs/file-system.ts';
import { TableCache } from '../sst/table-cache.ts';
import { TableReader } from '../sst/table-reader.ts';
import { tableFileName } from '../version/file-meta.ts';
import { yieldToEventLoop } from '../util/mutex.ts';
import { describeThreadError } from '../util/threads.ts';
import { Version } from '../version/version.ts';
import { runCompaction } from './compaction-job.ts';
import type { CompactionJobMessage, WorkerMessage } from './compaction-thread.ts';

const port = parentPort;
if (!port) throw new Error('compaction-worker.ts runs only as a worker thread');

const fs = new NodeFileSystem();

const waiting = new Map<number, (n: number) => void>();
let requests = 0;

function send(message: WorkerMessage): void {
  port!.postMessage(message);
}

/** The job's reserved file numbers first, then one at a time from the owning thread. */
let reserved: number[] = [];
function newFileNumber(): number | Promise<number> {
  const next = reserved.shift();
  if (next !== undefined) return next;
  const request = ++requests;
  return new Promise((resolve) => {
    waiting.set(request, resolve);
    send({ type: 'file-number', request });
  });
}

async function compact(job: CompactionJobMessage): Promise<void> {
  // No block cache: a compaction reads each block once, in order (LevelDB's fill_cache=false).
  const tables = new TableCache(job.tableCacheFilesMax, (n) => {
    const reader = TableReader.open(fs.openReadable(joinPath(job.dir, tableFileName(n))), n);
    reader.setReadahead(COMPACTION_READAHEAD_BYTES);
    return reader;
  });
  let reply: WorkerMessage;
  reserved = job.fileNumbers;
  try {
    const result = await runCompaction(job.plan, {
      writer: {
        fs,
        dir: job.dir,
        builder: job.builder,
        tableBytesTarget: job.tableBytesTarget,
        newFileNumber,
        // A turn of this thread's event loop: the callbacks of finished fsyncs run in it.
        pause: yieldToEventLoop,
      },
      version: Version.empty().apply(job.version),
      tables,
      snapshots: job.snapshots,
      allowTrivialMove: false,
    });
    reply = { type: 'done', result };
  } catch (err) {
    reply = { type: 'failed', error: describeThreadError(err) };
  } finally {
    // Closed before replying: the owning thread deletes the inputs once it has the result.
    tables.close();
  }
  send(reply);
}

// Loaded: the owning thread tells a failure from here on from one to start.
send({ type: 'ready' });

port.on('message', (message: CompactionJobMessage | { type: 'file-number'; request: number; number: number }) => {
  if (message.type === 'file-number') {
    const resolve = waiting.get(message.request);
    waiting.delete(message.request);
    resolve?.(message.number);
  } else void compact(message);
});
