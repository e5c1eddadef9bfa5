/**
 * What a node persists beside its engine directory, in `<data>/node-state.json`: whose data
 * this is (the node's address, and its shard once it has one: a node started on another node's
 * directory is refused), its shard's term history, the term of the newest data its engine holds,
 * whether a snapshot install was cut short, and the last cluster metadata it acted on (so a
 * restart routes as before until the control plane answers).
 *
 *   {"format": 2, "crc32c": <crc32c of the UTF-8 bytes of the "state" value as written>,
 *    "state": {"address": "127.0.0.1:7101", "shard": "shard-0", "history": [{"term": 1, "startSeq": 0}],
 *              "dataTerm": 1, "installing": false, "metadata": {…as GET /internal/meta…} | null}}
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
import { crc32c } from '../../engine/index.ts';
import { decodeMetadata } from '../control/metadata-machine.ts';
import type { Metadata } from '../control/metadata.ts';
import { checkHistory, type TermEntry } from './term-history.ts';

/** On disk: the file's name in the node's data directory, and its format version. */
export const NODE_META_FILE = 'node-state.json';
export const NODE_META_FORMAT = 2;

export interface NodeMeta {
  /** The node this data belongs to. */
  readonly address: string;
  /** Its shard, once the metadata gave it one. */
  readonly shard: string | null;
  readonly history: readonly TermEntry[];
  /** The term of the newest data in the engine; 0 when unknown or empty. */
  readonly dataTerm: number;
  /** A snapshot install started and did not finish: the engine's data is partial and must be wiped. */
  readonly installing: boolean;
  /** The last cluster metadata the node acted on, or null before the first. */
  readonly metadata: Metadata | null;
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
  if (Number(match[1]) === 1) {
    throw new ClusterError('CONFIG_INVALID', `${where} was written by a distribKV before the control plane (format 1); start this node on an empty data directory and it will be re-replicated`);
  }
  if (Number(match[1]) !== NODE_META_FORMAT) throw corrupt(`format ${match[1]} is not ${NODE_META_FORMAT}`);
  const stateText = match[3]!;
  const actual = crc32c(encoder.encode(stateText));
  if (actual !== Number(match[2])) throw corrupt(`checksum ${actual} does not match ${match[2]}`);
  let raw: Partial<NodeMeta>;
  try {
    raw = JSON.parse(stateText) as Partial<NodeMeta>;
  } catch (error) {
    throw corrupt(`state is not JSON: ${(error as Error).message}`, error);
  }
  if (typeof raw.address !== 'string' || !(raw.shard === null || typeof raw.shard === 'string')) throw corrupt('address or shard is missing');
  if (!Number.isSafeInteger(raw.dataTerm) || raw.dataTerm! < 0 || typeof raw.installing !== 'boolean') throw corrupt('dataTerm or installing is missing');
  let history: TermEntry[];
  let metadata: Metadata | null;
  try {
    history = checkHistory(raw.history, where);
    metadata = raw.metadata === null || raw.metadata === undefined ? null : decodeMetadata(raw.metadata, where);
  } catch (error) {
    throw corrupt((error as Error).message, error);
  }
  return Object.freeze({ address: raw.address, shard: raw.shard!, history, dataTerm: raw.dataTerm!, installing: raw.installing!, metadata });
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
/**
 * Saves in flight, by file: each waits for the one before it, so two saves never share the
 * temporary file (one's rename would move the other's half-written bytes, the other's then fail
 * with ENOENT), and the file ends as the last save asked.
 */
const savesInFlight = new Map<string, Promise<void>>();

export function writeNodeMeta(fs: FileSystem, dataDir: string, meta: NodeMeta): Promise<void> {
  const file = path.join(dataDir, NODE_META_FILE);
  // A failed save's error goes to its own caller; the next one still runs.
  const save = (savesInFlight.get(file) ?? Promise.resolve()).then(() => writeNow(fs, dataDir, meta));
  const settled = save.then(
    () => undefined,
    () => undefined,
  );
  savesInFlight.set(file, settled);
  void settled.then(() => {
    if (savesInFlight.get(file) === settled) savesInFlight.delete(file);
  });
  return save;
}

async function writeNow(fs: FileSystem, dataDir: string, meta: NodeMeta): Promise<void> {
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
