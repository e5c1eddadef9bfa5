/**
 * The node's metadata client (cluster/control/metadata-client.ts) against scripted controllers:
 * when it says the metadata is confirmed. A node restarted on a cached metadata acts on it at
 * first; its migration loops wait for this confirmation (bugs-reshard #8), so it must come from a
 * controller at least as new as the cache, and come at once, without a long-poll's wait.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { applyCommand, EMPTY_METADATA, type Command, type Metadata } from '../../cluster/control/metadata.ts';
import { MetadataClient } from '../../cluster/control/metadata-client.ts';
import type { PeerAnswer, Peers } from '../../cluster/peers.ts';

const WAIT_MS = 10_000;

/** Metadata at successive versions: bootstrap, then nodes registering. */
function versions(n: number): Metadata[] {
  const out: Metadata[] = [];
  let m = EMPTY_METADATA;
  const commands: Command[] = [{ type: 'bootstrap', vnodes: 16, shards: [{ name: 's0', members: ['a1'] }] }];
  for (let i = 1; commands.length < n; i++) commands.push({ type: 'register', node: `u${i}` });
  for (const c of commands) {
    const result = applyCommand(m, c);
    assert.ok(result.ok, JSON.stringify(result));
    m = result.metadata;
    out.push(m);
  }
  return out;
}

async function waitUntil(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

it('confirms the metadata only after a controller at least as new as the cache answered, and without waiting for a change', async () => {
  const [, older, cached] = versions(3) as [Metadata, Metadata, Metadata];
  // c1 was cut off and is behind the node's cache; c2 is current. Each GET records its wait_ms.
  const answers: Record<string, Metadata> = { c1: older, c2: cached };
  const asked: { controller: string; waitMs: number }[] = [];
  const peers = {
    async call(controller: string, _method: string, path: string): Promise<PeerAnswer> {
      const waitMs = Number(new URL(`http://x${path}`).searchParams.get('wait_ms'));
      asked.push({ controller, waitMs });
      // A long-poll with nothing newer holds the answer (shortened here, so the test ends soon).
      const after = Number(new URL(`http://x${path}`).searchParams.get('after'));
      if (waitMs > 0 && answers[controller]!.version <= after) await delay(20);
      return { status: 200, headers: {}, json: JSON.parse(JSON.stringify(answers[controller])) };
    },
  } as unknown as Peers;
  let confirmedAfter: number | undefined;
  const offered: number[] = [];
  const client = new MetadataClient({
    address: 'a1', controllers: ['c1', 'c2'], peers, log: () => undefined, initial: cached,
    onMetadata: (m) => void offered.push(m.version),
    onConfirmed: () => void (confirmedAfter ??= asked.length),
  });
  client.start();
  try {
    await waitUntil('the confirmation', () => confirmedAfter !== undefined);
  } finally {
    await client.stop();
  }
  assert.equal(asked[0]!.controller, 'c1');
  assert.equal(asked[confirmedAfter! - 1]!.controller, 'c2', `confirmed after ${JSON.stringify(asked.slice(0, confirmedAfter))}`);
  assert.ok(asked.slice(0, confirmedAfter).every((a) => a.waitMs === 0), `asks before the confirmation do not long-poll: ${JSON.stringify(asked.slice(0, confirmedAfter))}`);
  assert.deepEqual(offered, [], 'nothing newer than the cache was offered');
  assert.equal(client.metadata.version, cached.version);
});
