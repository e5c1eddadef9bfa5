/**
 * The keys in a stopped node's engine, read straight from its data directory: what a shard
 * really holds, below routing (which hides keys a shard does not own). REQUIRES: the node has
 * exited (the engine's lock is free).
 */
import path from 'node:path';
import { Db } from '../../engine/index.ts';
import { KEY_BYTES_MAX } from '../../protocol/limits.ts';

export async function engineKeys(dataDir: string): Promise<Map<string, string>> {
  const db = await Db.open(path.join(dataDir, 'db'), { keyBytesMax: KEY_BYTES_MAX, createIfMissing: false });
  const keys = new Map<string, string>();
  try {
    for await (const [key, value] of db.iterator()) keys.set(Buffer.from(key).toString('latin1'), Buffer.from(value).toString('latin1'));
  } finally {
    await db.close();
  }
  return keys;
}
