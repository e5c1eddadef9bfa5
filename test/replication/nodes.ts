/**
 * Looking at real nodes from replication and control-plane tests: their /internal/state and
 * the shards they route by (GET /cluster), waiting (by polling, with a deadline) until a
 * condition holds, the operator's routes (/admin/promote, /admin/transfer), and reading a
 * node's whole data through scan pages, so two nodes' data can be compared.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ElectionReport } from '../../cluster/replication/controller.ts';
import { rawRequest, type RawResponse } from '../helpers/http.ts';

const POLL_MS = 25;

/**
 * The operator's token these helpers send (`/internal/state` and `/admin/` are admin routes):
 * none for a tokenless cluster on loopback; a test of a cluster with a token (one beyond
 * loopback must have one) sets it with `useToken` and clears it after.
 */
let adminHeaders: Record<string, string> = {};
export function useToken(token: string | undefined): void {
  adminHeaders = token === undefined ? {} : { Authorization: `Bearer ${token}` };
}
/** A generous bound for "eventually": a busy 2-core machine is slow, never this slow. */
export const WAIT_MS = 60_000;

export interface FollowerView {
  node: string;
  connected: boolean;
  applied: number;
  keepingUp: boolean;
  inSync: boolean;
}

export interface NodeView {
  node: string;
  shard: string | null;
  role: 'leader' | 'replica' | 'unassigned';
  term: number | null;
  /** The metadata version the node routes by. */
  version: number;
  lastSequence: number;
  replication: {
    dataTerm: number;
    history: { term: number; startSeq: number }[];
    readable: boolean;
    leader?: { followers: FollowerView[]; waitingWrites: number; leaseValid: boolean };
    follower?: { leader: string | null; connected: boolean; applied: number; snapshotsInstalled: number; batchesApplied: number; installing: boolean };
  };
  /** On a controller: its Raft status. */
  control: ControlView | null;
}

export interface ControlView {
  id: string;
  role: string;
  term: number;
  leader: string;
  commit: number;
  applied: number;
  metadataVersion: number;
  electing: string[];
}

/** A shard as GET /cluster shows it. */
export interface ShardView {
  name: string;
  leader: string;
  replicas: string[];
  term: number;
}

export async function nodeView(address: string): Promise<NodeView> {
  const res = await rawRequest(address, 'GET', '/internal/state', { headers: adminHeaders });
  if (res.status !== 200) throw new Error(`GET /internal/state on ${address}: ${res.status} ${res.body.toString()}`);
  return res.json() as NodeView;
}

/** The shards as the node at `address` routes by them, and that view's metadata version. */
export async function clusterView(address: string): Promise<{ version: number; shards: ShardView[] }> {
  const res = await rawRequest(address, 'GET', '/cluster', { headers: adminHeaders });
  if (res.status !== 200) throw new Error(`GET /cluster on ${address}: ${res.status} ${res.body.toString()}`);
  return res.json() as { version: number; shards: ShardView[] };
}

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await delay(POLL_MS);
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** Polls `read` until it returns something other than undefined, and returns that. */
export async function waitForValue<T>(what: string, read: () => Promise<T | undefined> | T | undefined, timeoutMs = WAIT_MS): Promise<T> {
  let value: T | undefined;
  await waitFor(what, async () => (value = await read()) !== undefined, timeoutMs);
  return value!;
}

/** Waits until the leader at `leader` holds its lease and has `count` followers in the committed in-sync set. */
export function waitInSync(leader: string, count: number): Promise<void> {
  return waitFor(`${count} followers in sync on ${leader}`, async () => {
    const view = await nodeView(leader);
    return view.replication.leader?.leaseValid === true && view.replication.leader.followers.filter((f) => f.inSync).length >= count;
  });
}

/** Waits until `replica` has applied everything `leader` holds (with no write running). */
export function waitCaughtUp(replica: string, leader: string): Promise<void> {
  return waitFor(`${replica} caught up with ${leader}`, async () => {
    const [r, l] = await Promise.all([nodeView(replica), nodeView(leader)]);
    return r.role === 'replica' && r.replication.readable && r.lastSequence === l.lastSequence;
  });
}

/**
 * Every key and value `address` holds, as UTF-8 strings (tests write text), read with scan pages
 * (with read=replica, from its own data).
 */
export async function scanAll(address: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const query = ['read=replica', 'encoding=base64', 'limit=10000', after === undefined ? '' : `gt=${after}`].filter(Boolean).join('&');
    const res = await rawRequest(address, 'GET', `/kv?${query}`, { headers: adminHeaders });
    if (res.status !== 200) throw new Error(`scan of ${address}: ${res.status} ${res.body.toString()}`);
    const doc = res.json() as { entries: { key: string; value: string }[]; more: boolean };
    for (const e of doc.entries) out.set(Buffer.from(e.key, 'base64').toString('utf8'), Buffer.from(e.value, 'base64').toString('utf8'));
    const last = doc.entries.at(-1);
    if (!doc.more || !last) return out;
    after = percent(Buffer.from(last.key, 'base64'));
  }
  throw new Error(`scan of ${address} did not end`);
}

function percent(bytes: Uint8Array): string {
  return [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/** What /admin/promote and /admin/transfer answer once the control plane committed the election. */
export type { ElectionReport };

/** POST /admin/promote on `address` (the node to promote), as answered. */
export function requestPromote(address: string, unclean = false): Promise<RawResponse> {
  return rawRequest(address, 'POST', `/admin/promote${unclean ? '?unclean=true' : ''}`, { headers: adminHeaders });
}

/** POST /admin/transfer on `address` (the leader), to `to` or to the follower it picks, as answered. */
export function requestTransfer(address: string, to?: string): Promise<RawResponse> {
  return rawRequest(address, 'POST', `/admin/transfer${to === undefined ? '' : `?to=${encodeURIComponent(to)}`}`, { headers: adminHeaders });
}

/** The election report of a 200, or an error naming the status and the node's message. */
export function electionOf(res: RawResponse, what: string): ElectionReport {
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${res.body.toString()}`);
  return res.json() as ElectionReport;
}
