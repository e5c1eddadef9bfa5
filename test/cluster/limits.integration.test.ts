/**
 * The in-flight request limit on a real node: past it, requests are refused at once with
 * 503 OVERLOADED and Retry-After instead of queueing, and service resumes when load drops.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';

const DEADLINE_MS = 20_000;

describe('a node at its in-flight request limit', () => {
  let cluster: TestCluster | undefined;
  after(() => cluster?.close());
  before(async () => {
    cluster = await startCluster({ shards: 1, limitsToml: 'inflight_requests_max = 1' });
  });

  it('answers 503 OVERLOADED while the one slot is taken, and serves again once it is free', async () => {
    const address = cluster!.shards[0]!.leader;
    const [host, port] = [address.split(':')[0]!, Number(address.split(':')[1])];
    let slow: http.ClientRequest | undefined;
    const done = new Promise<number>((resolve, reject) => {
      slow = http.request({ host, port, method: 'PUT', path: '/kv/slow', agent: false, headers: { 'Content-Length': '4' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      slow.on('error', reject);
      slow.write('sl');
    });
    let refused: Awaited<ReturnType<typeof rawRequest>> | undefined;
    const deadline = Date.now() + DEADLINE_MS;
    while (!refused && Date.now() < deadline) {
      const res = await rawRequest(address, 'GET', '/healthz');
      if (res.status === 503) refused = res;
      else await delay(20);
    }
    assert.ok(refused, 'the node refused a request while its one slot was taken');
    assert.equal(refused.json().code, 'OVERLOADED');
    assert.equal(refused.headers['retry-after'], '1');
    slow!.end('ow');
    assert.equal(await done, 204);
    // The slot frees when the server has finished the response, which the client may see first.
    await pollUntil(async () => (await rawRequest(address, 'GET', '/healthz')).status === 200);
    assert.equal((await rawRequest(address, 'GET', '/kv/slow')).body.toString(), 'slow');
  });
});

async function pollUntil(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(20);
  }
  throw new Error(`condition not met within ${DEADLINE_MS} ms`);
}
