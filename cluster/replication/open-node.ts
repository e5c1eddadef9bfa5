/**
 * What a node opens at start, before any network: its data directory, its engine
 * (`<data>/db`) and its persisted state (node-meta.ts), reconciled with the config
 * (reconcile.ts) and written back if that changed it. Used by node.ts and by the crash-state
 * test of node state, so both start the same way.
 *
 * A snapshot install cut short (the install mark is set) is recovered here, before anything
 * reads the engine: it is opened empty and the mark cleared, as the follower machine's own
 * recovery does at run time (follower-machine.ts `recoveryWork`), so the node never starts,
 * as a follower or as a leader, on partial data.
 */
import type { DbOpenOptions, FileSystem } from '../../engine/index.ts';
import type { Topology } from '../../protocol/topology.ts';
import { DbHolder } from './db-holder.ts';
import { readNodeMeta, writeNodeMeta, type NodeMeta } from './node-meta.ts';
import { reconcileMeta } from './reconcile.ts';

export async function openNodeStorage(fileSystem: FileSystem, dataDir: string, configTopology: Topology, address: string, engine: Omit<DbOpenOptions, 'fileSystem'>): Promise<{ holder: DbHolder; meta: NodeMeta; recoveredInstall: boolean }> {
  fileSystem.mkdirp(dataDir);
  const saved = readNodeMeta(fileSystem, dataDir);
  const interrupted = saved?.installing === true;
  const holder = await DbHolder.open(dataDir, { ...engine, fileSystem }, interrupted);
  try {
    const recovered = interrupted ? { ...saved, installing: false, dataEpoch: 0 } : saved;
    const meta = reconcileMeta(configTopology, recovered, address, holder.db.lastSequence);
    if (meta !== saved) await writeNodeMeta(fileSystem, dataDir, meta);
    return { holder, meta, recoveredInstall: interrupted };
  } catch (error) {
    await holder.close();
    throw error;
  }
}
