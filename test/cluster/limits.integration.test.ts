/**
 * The in-flight request limit on a real node: past it, requests are refused at once with
 * 503 OVERLOADED and Retry-After instead of queueing, and service resumes when load drops.
 * What holds a slot is a request being served (here: a response its client does not read);
 * /healthz takes none, so a full node still says it is alive.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CONTROL_TOML_STEADY, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';

const DEADLINE_MS = 20_000;
/** A bound for "eventually": the control plane's first lease on a busy 2-core machine. */
const READY_WAIT_MS = 120_000;
/** Larger than the socket buffers between node and client, so its response cannot finish unread. */
const BIG_VALUE_BYTES = 12 * 1024 * 1024;

describe('a node at its in-flight request limit', () => {
  let cluster: TestCluster | undefined;
  after(() => cluster?.close());
  before(async () => {
    cluster = await startCluster({ shards: 1, limitsToml: 'inflight_requests_max = 1', controlToml: CONTROL_TOML_STEADY });
  });

  it('answers 503 OVERLOADED while the one slot is taken, keeps /healthz answering, and serves again once it is free', async () => {
    const address = cluster!.shards[0]!.leader;
    // Writes need the leader's lease, which may come after the node answers /healthz.
    await pollUntil(async () => (await rawRequest(address, 'GET', '/healthz')).json().ready === true, READY_WAIT_MS);
    for (const [key, body] of [['big', Buffer.alloc(BIG_VALUE_BYTES, 0x62)], ['small', 'small']] as const) {
      const res = await rawRequest(address, 'PUT', `/kv/${key}`, { body });
      assert.equal(res.status, 204, `PUT /kv/${key}: ${res.body.toString()}`);
    }
    // A GET of the big value whose client reads nothing: its response holds the one slot.
    const colon = address.lastIndexOf(':');
    const reader = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    reader.pause();
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      reader.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= BIG_VALUE_BYTES) resolve();
      });
      reader.on('error', reject);
    });
    reader.write(`GET /kv/big HTTP/1.1\r\nHost: ${address}\r\n\r\n`);
    try {
      let refused: Awaited<ReturnType<typeof rawRequest>> | undefined;
      await pollUntil(async () => {
        const res = await rawRequest(address, 'GET', '/kv/small');
        if (res.status === 503) refused = res;
        return refused !== undefined;
      });
      assert.equal(refused!.json().code, 'OVERLOADED');
      assert.equal(refused!.headers['retry-after'], '1');
      assert.equal((await rawRequest(address, 'GET', '/healthz')).status, 200, '/healthz answers on a full node');
      reader.resume();
      await done;
      // The slot frees when the server has finished the response, which the client may see first.
      await pollUntil(async () => (await rawRequest(address, 'GET', '/kv/small')).status === 200);
    } finally {
      reader.destroy();
    }
  });
});

async function pollUntil(check: () => Promise<boolean>, timeoutMs = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(20);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
