/**
 * Waiting for a node process to be ready, with a bound fit for many nodes starting at once on
 * a busy two-core machine (cluster-harness.ts's `waitHealthy` allows 90 s; twelve nodes
 * starting together took 65-180 s here at load averages of 20-50). Ready is /healthz's
 * `ready`: the control plane has answered and, on a leader, the lease holds.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { NodeProcess } from './cluster-harness.ts';

/** Bound on a node becoming ready. */
export const READY_WAIT_MS = 300_000;
const POLL_MS = 100;
const PROBE_TIMEOUT_MS = 2_000;
/** Lines of the node's log shown when it fails to become ready. */
const LOG_TAIL_CHARS = 4_000;

/** Polls /healthz until the node says it is ready; fails early, with its log, if it exits. */
export async function waitReady(node: NodeProcess, waitMs = READY_WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!node.running) throw new Error(`node ${node.address} exited before it was ready:\n${node.stderr.slice(-LOG_TAIL_CHARS)}`);
    try {
      const res = await fetch(`http://${node.address}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      const body = await res.json() as { ready?: boolean; waiting?: string };
      if (res.status === 200 && body.ready) return;
      last = `${res.status}, waiting for ${body.waiting ?? '?'}`;
    } catch {
      // Not listening yet, or too busy to answer in time: poll again.
    }
    await delay(POLL_MS);
  }
  throw new Error(`node ${node.address} not ready within ${waitMs} ms (${last}):\n${node.stderr.slice(-LOG_TAIL_CHARS)}`);
}
