/**
 * What a node persists beside its engine directory, in `<data>/node-state.json`: the topology
 * it knows (so a restart never forgets a promotion), the epoch history, the epoch of the
 * newest data its engine holds, and whether a snapshot install was cut short.
 *
 *   {"format": 1, "crc32c": <crc32c of the UTF-8 bytes of the "state" value as written>,
 *    "state": {"topology": {…as GET /cluster…}, "history": [{"epoch": 1, "startSeq": 0}],
 *              "dataEpoch": 1, "installing": false}}
 *
 * Written whole to a temp file, fsynced, renamed over the old one, and the directory fsynced,
 * so a crash leaves the old or the new file, never a torn one. The checksum is verified on
 * every read; a mismatch is CORRUPTION, never "no file". Every access goes through the
 * engine's file-system seam, so MemoryFileSystem's crash states cover it
 * (test/replication/node-state-crash.test.ts).
 */
import path from 'node:path';
import type { FileSystem } from '../../engine/index.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { Topology, type TopologyJson } from '../../protocol/topology.ts';
import { crc32c } from '../../engine/index.ts';
import { checkHistory, type EpochEntry } from './epoch-history.ts';

/** On disk: the file's name in the node's data directory, and its format version. */
export const NODE_META_FILE = 'node-state.json';
export const NODE_META_FORMAT = 1;

export interface NodeMeta {
  readonly topology: TopologyJson;
  readonly history: readonly EpochEntry[];
  /** The epoch of the newest data in the engine; 0 when unknown or empty. */
  readonly dataEpoch: number;
  /** A snapshot install started and did not finish: the engine's data is partial and must be wiped. */
  readonly installing: boolean;
}

const encoder = new TextEncoder();

export function encodeNodeMeta(meta: NodeMeta): string {
  const state = JSON.stringify(meta);
  return `{"format":${NODE_META_FORMAT},"crc32c":${crc32c(encoder.encode(state))},"state":${state}}\n`;
}

/** Parses and verifies the file's text. Throws CORRUPTION naming `where`. */
export function decodeNodeMeta(text: string, where: string): NodeMeta {
  const corrupt = (what: string, cause?: unknown) => new ClusterError('CORRUPTION', `${where}: ${what}`, cause === undefined ? undefined : { cause });
  // The checksum covers the state exactly as written, so it is cut out of the text, not re-serialised.
  const match = /^\{"format":(\d+),"crc32c":(\d+),"state":(.*)\}\n?$/s.exec(text);
  if (!match) throw corrupt('not a node state file');
  if (Number(match[1]) !== NODE_META_FORMAT) throw corrupt(`format ${match[1]} is not ${NODE_META_FORMAT}`);
  const stateText = match[3]!;
  const actual = crc32c(encoder.encode(stateText));
  if (actual !== Number(match[2])) throw corrupt(`checksum ${actual} does not match ${match[2]}`);
  let raw: Partial<NodeMeta>;
  try {
    raw = JSON.parse(stateText) as Partial<NodeMeta>;
    Topology.fromJson(raw.topology);
  } catch (error) {
    throw corrupt(`state is not valid: ${(error as Error).message}`, error);
  }
  if (!Number.isSafeInteger(raw.dataEpoch) || raw.dataEpoch! < 0 || typeof raw.installing !== 'boolean') throw corrupt('dataEpoch or installing is missing');
  let history: EpochEntry[];
  try {
    history = checkHistory(raw.history, where);
  } catch (error) {
    throw corrupt((error as Error).message, error);
  }
  return Object.freeze({ topology: raw.topology!, history, dataEpoch: raw.dataEpoch!, installing: raw.installing! });
}

/** The node state in `dataDir`, or undefined if the node never wrote one. */
export function readNodeMeta(fs: FileSystem, dataDir: string): NodeMeta | undefined {
  const file = path.join(dataDir, NODE_META_FILE);
  if (!fs.exists(file)) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = fs.readAll(file);
  } catch (error) {
    throw new ClusterError('INTERNAL', `${file}: cannot read: ${(error as Error).message}`, { cause: error });
  }
  return decodeNodeMeta(new TextDecoder().decode(bytes), file);
}

/** Replaces the node state in `dataDir` durably (temp file, fsync, rename, fsync of the directory). */
export async function writeNodeMeta(fs: FileSystem, dataDir: string, meta: NodeMeta): Promise<void> {
  const text = encodeNodeMeta(meta);
  // Paired check: what goes to disk must read back as what was meant.
  decodeNodeMeta(text, 'node state about to be written');
  const file = path.join(dataDir, NODE_META_FILE);
  const temp = `${file}.tmp`;
  const handle = fs.createWritable(temp);
  try {
    handle.append(encoder.encode(text));
    await handle.sync();
  } finally {
    handle.close();
  }
  fs.rename(temp, file);
  await fs.syncDir(dataDir);
}
