/**
 * The read thread's entry point: answers the point lookups read-thread.ts sends (the table
 * part of a getMany) with the same code as the owning thread (lookupInTables), over its own
 * file handles, table cache and block cache. Requests are answered in the order they come.
 *
 * State: the version last sent (requests name it; a request carrying a new one replaces it,
 * and the readers of tables it no longer lists are closed, so a deleted table's space is not
 * held by an open descriptor here), the table cache and the block cache.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { joinPath } from '../fs/file-system.ts';
import { NodeFileSystem } from '../fs/node-file-system.ts';
import { ValueKind } from '../internal-key.ts';
import { BlockCache } from '../sst/block-cache.ts';
import { TableCache } from '../sst/table-cache.ts';
import { newTableReadStats, TableReader } from '../sst/table-reader.ts';
import { describeThreadError } from '../util/threads.ts';
import { tableFileName } from '../version/file-meta.ts';
import { Version } from '../version/version.ts';
import { BytesPacker, packedRange, type LookupRequest, type ReadWorkerMessage, type ReadWorkerSettings } from './read-messages.ts';
import { lookupInTables } from './table-lookup.ts';

const port = parentPort;
if (!port) throw new Error('read-worker.ts runs only as a worker thread');
const settings = workerData as ReadWorkerSettings;
/** A first guess at a value's size, for the reply buffer (it grows past it). */
const VALUE_BYTES_GUESS = 128;

const fs = new NodeFileSystem();
const blockCache = new BlockCache(settings.blockCacheBytes);
const tables = new TableCache(
  settings.tableCacheFilesMax,
  (n) => TableReader.open(fs.openReadable(joinPath(settings.dir, tableFileName(n))), n, blockCache, stats),
  blockCache,
);
/** Counts reads since the last reply (every reader shares it); each reply carries and clears it. */
const stats = newTableReadStats();
let version = Version.empty();
let versionId = -1;

function send(message: ReadWorkerMessage, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** Adopts the request's version, closing the readers of tables it no longer lists. */
function adopt(request: LookupRequest): void {
  if (request.versionId === versionId) return;
  const next = Version.empty().apply(request.version!);
  const kept = next.fileNumbers();
  for (const n of version.fileNumbers()) if (!kept.has(n)) tables.evict(n);
  version = next;
  versionId = request.versionId;
}

function lookup(request: LookupRequest): void {
  adopt(request);
  const { keys, seq } = request;
  const count = keys.offsets.length - 1;
  const values = new BytesPacker(count, count * VALUE_BYTES_GUESS);
  for (let i = 0; i < count; i++) {
    const [from, to] = packedRange(keys, i)!;
    const entry = lookupInTables(version, tables, keys.bytes.subarray(from, to), seq);
    // Copied now: the value may view a reader's scratch buffer, which its next read overwrites.
    values.add(entry?.kind === ValueKind.Put ? entry.value : undefined);
  }
  const packed = values.finish();
  const used = { ...stats };
  stats.filterProbes = stats.filterNegatives = stats.blockReads = stats.blockCacheHits = 0;
  send({ type: 'values', id: request.id, values: packed, stats: used }, [packed.bytes.buffer as ArrayBuffer, packed.offsets.buffer as ArrayBuffer]);
}

// Loaded: the owning thread tells a failure from here on from one to start.
send({ type: 'ready' });

port.on('message', (request: LookupRequest) => {
  try {
    lookup(request);
  } catch (err) {
    send({ type: 'failed', id: request.id, error: describeThreadError(err) });
  }
});
