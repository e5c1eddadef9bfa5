/**
 * What a node opens at start, before any network: its data directory, its engine
 * (`<data>/db`) and its persisted state (node-meta.ts), written on first start. Used by
 * node.ts and by the crash-state test of node state, so both start the same way.
 *
 * A data directory belongs to one node: one written by another address is refused with a
 * one-line CONFIG_INVALID (a node started on another node's data would serve that node's
 * shard as its own).
 *
 * A snapshot install cut short (the install mark is set) is recovered here, before anything
 * reads the engine: it is opened empty and the mark cleared, as the follower machine's own
 * recovery does at run time (follower-machine.ts `recoveryWork`), so the node never starts,
 * as a follower or as a leader, on partial data.
 */
import type { DbOpenOptions, FileSystem } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { DbHolder } from './db-holder.ts';
import { readNodeMeta, writeNodeMeta, type NodeMeta } from './node-meta.ts';

export async function openNodeStorage(fileSystem: FileSystem, dataDir: string, address: string, engine: Omit<DbOpenOptions, 'fileSystem'>): Promise<{ holder: DbHolder; meta: NodeMeta; recoveredInstall: boolean }> {
  fileSystem.mkdirp(dataDir);
  const saved = readNodeMeta(fileSystem, dataDir);
  if (saved && saved.address !== address) {
    throw new ClusterError('CONFIG_INVALID', `data directory ${dataDir} belongs to node ${saved.address}, not ${address}; give each node its own --data`);
  }
  const interrupted = saved?.installing === true;
  const holder = await DbHolder.open(dataDir, { ...engine, fileSystem }, interrupted);
  try {
    let meta: NodeMeta = saved ?? { address, shard: null, history: [], dataTerm: 0, installing: false, metadata: null };
    if (interrupted) meta = { ...meta, installing: false, dataTerm: 0 };
    if (meta !== saved) await writeNodeMeta(fileSystem, dataDir, meta);
    return { holder, meta, recoveredInstall: interrupted };
  } catch (error) {
    await holder.close();
    throw error;
  }
}
