/**
 * Looking at real nodes from replication tests: their /internal/state, waiting (by polling,
 * with a deadline) until a condition holds, and reading a node's whole data through scan
 * pages, so two nodes' data can be compared.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { rawRequest } from '../helpers/http.ts';

const POLL_MS = 25;
export const WAIT_MS = 30_000;

export interface FollowerView {
  node: string;
  connected: boolean;
  applied: number;
  inSync: boolean;
}

export interface NodeView {
  role: 'leader' | 'replica';
  epoch: number;
  lastSequence: number;
  replication: {
    readable: boolean;
    leader?: { followers: FollowerView[]; waitingWrites: number };
    follower?: { leader: string | null; connected: boolean; applied: number; snapshotsInstalled: number; batchesApplied: number; installing: boolean };
  };
}

export async function nodeView(address: string): Promise<NodeView> {
  const res = await rawRequest(address, 'GET', '/internal/state');
  if (res.status !== 200) throw new Error(`GET /internal/state on ${address}: ${res.status} ${res.body.toString()}`);
  return res.json() as NodeView;
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

/** Waits until the leader at `leader` has `count` followers in sync. */
export function waitInSync(leader: string, count: number): Promise<void> {
  return waitFor(`${count} followers in sync on ${leader}`, async () => {
    const view = await nodeView(leader);
    return (view.replication.leader?.followers.filter((f) => f.inSync).length ?? 0) >= count;
  });
}

/**
 * Waits until each replica has noticed its leader is gone (its stream ended), so that what it
 * received before has been applied and its position no longer moves: the moment to compare
 * positions and pick the replica to promote.
 */
export function waitLeaderGone(replicas: readonly string[]): Promise<void> {
  return waitFor(`${replicas.join(', ')} to notice the leader is gone`, async () => {
    const views = await Promise.all(replicas.map(nodeView));
    return views.every((v) => v.replication.follower?.connected === false);
  });
}

/** Waits until `replica` has applied everything `leader` holds (with no write running). */
export function waitCaughtUp(replica: string, leader: string): Promise<void> {
  return waitFor(`${replica} caught up with ${leader}`, async () => {
    const [r, l] = await Promise.all([nodeView(replica), nodeView(leader)]);
    return r.replication.readable && r.lastSequence === l.lastSequence;
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
    const res = await rawRequest(address, 'GET', `/kv?${query}`);
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

/** POST /admin/promote on `address`; returns the JSON report. */
export async function promote(address: string, force = false): Promise<{ epoch: number; leader: string; lastSequence: number; notified: string[]; unreachable: string[] }> {
  const res = await rawRequest(address, 'POST', `/admin/promote${force ? '?force=true' : ''}`);
  if (res.status !== 200) throw new Error(`promote ${address}: ${res.status} ${res.body.toString()}`);
  return res.json();
}
