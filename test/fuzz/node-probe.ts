/**
 * What the fuzzer observes of a live node besides its answers: its data (a scan of every
 * key, base64, page by page), a digest of that data, and its resident memory (Linux
 * /proc). Everything goes through the public HTTP API or /proc; nothing reads the data
 * directory.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { percentEncode } from '../../cluster/index.ts';
import { rawRequest } from '../helpers/http.ts';

const SCAN_PAGE_ENTRIES = 1000;
const SCAN_PAGES_MAX = 1000;

/** Every key and value of the node's shard, as hex, in key order. */
export async function scanAll(address: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  let after: Uint8Array | undefined;
  for (let page = 0; page < SCAN_PAGES_MAX; page++) {
    const bound = after === undefined ? '' : `&gt=${percentEncode(after)}`;
    const res = await rawRequest(address, 'GET', `/kv?encoding=base64&limit=${SCAN_PAGE_ENTRIES}${bound}`);
    if (res.status !== 200) throw new Error(`node-probe: scan page ${page} answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
    const doc = res.json() as { entries: { key: string; value: string }[]; more: boolean };
    for (const e of doc.entries) {
      const key = Buffer.from(e.key, 'base64');
      entries.set(key.toString('hex'), Buffer.from(e.value, 'base64').toString('hex'));
      after = new Uint8Array(key);
    }
    if (!doc.more) return entries;
  }
  throw new Error(`node-probe: scan did not finish within ${SCAN_PAGES_MAX} pages`);
}

/** SHA-256 over the entries in key order: one line to compare and print. */
export function digestOf(entries: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256');
  for (const key of [...entries.keys()].sort()) hash.update(`${key}=${entries.get(key)}\n`);
  return hash.digest('hex');
}

/**
 * The pid of the node process started with `--node address`, found in /proc (the harness
 * does not expose its child). Undefined if there is none, or this is not Linux.
 */
export function findNodePid(address: string): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined; // No /proc: not Linux.
  }
  const wanted = `--node\0${address}\0`;
  for (const pid of pids) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch {
      continue; // The process exited while we looked; it is not the node, which must be running.
    }
    if (cmdline.includes('cluster/node.ts') && cmdline.includes(wanted)) return Number(pid);
  }
  return undefined;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status. */
export function residentBytes(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/** The most resident memory a process has had since it started, or since `resetPeakResident`. */
export function peakResidentBytes(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

/** Sets a process's peak resident memory to its current one (Linux: `5` to /proc/<pid>/clear_refs); false if not allowed. */
export function resetPeakResident(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false; // Not Linux, or not this user's process: the caller samples instead.
  }
}

function statusBytes(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`node-probe: no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
