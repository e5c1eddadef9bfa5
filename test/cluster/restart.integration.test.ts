/**
 * Stopping and restarting a real node: SIGTERM lets a request already in progress finish,
 * closes the engine and exits 0; the restarted node has every acknowledged write.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../net/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';

const DEADLINE_MS = 20_000;

describe('a node stopped with SIGTERM and started again', () => {
  let cluster: TestCluster | undefined;
  after(() => cluster?.close());
  before(async () => {
    cluster = await startCluster({ shards: 1 });
  });

  it('keeps every acknowledged write, delete and batch', async () => {
    const address = cluster!.shards[0]!.leader;
    let client = await Client.connect([address]);
    for (let i = 0; i < 200; i++) await client.put(`key-${i}`, `value-${i}`);
    for (let i = 0; i < 200; i += 10) await client.delete(`key-${i}`);
    const lastSeq = await client.batch([{ type: 'put', key: 'batched', value: 'yes' }, { type: 'del', key: 'key-1' }]);
    client.close();

    const stopped = await cluster!.nodes.get(address)!.stop('SIGTERM');
    assert.deepEqual(stopped, { code: 0, signal: null });
    assert.match(cluster!.nodes.get(address)!.stderr, /"stopped cleanly"/);

    await cluster!.start(address);
    client = await Client.connect([address]);
    try {
      for (let i = 0; i < 200; i++) {
        const value = await client.get(`key-${i}`);
        if (i % 10 === 0 || i === 1) assert.equal(value, undefined, `key-${i} was deleted`);
        else assert.equal(Buffer.from(value!).toString(), `value-${i}`);
      }
      assert.equal(Buffer.from((await client.get('batched'))!).toString(), 'yes');
      assert.ok((await client.put('after-restart', 'x')) > lastSeq, 'sequence numbers continue after the restart');
    } finally {
      client.close();
    }
  });

  it('finishes a request in progress before it exits', async () => {
    const address = cluster!.shards[0]!.leader;
    const node = cluster!.nodes.get(address)!;
    const [host, port] = [address.split(':')[0]!, Number(address.split(':')[1])];
    // A PUT whose body is still arriving when SIGTERM lands.
    const inFlight: { req?: http.ClientRequest } = {};
    const response = new Promise<number>((resolve, reject) => {
      const req = http.request({ host, port, method: 'PUT', path: '/kv/in-flight', agent: false, headers: { 'Content-Length': '10' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write('hello');
      inFlight.req = req;
    });
    // Its body is still arriving: it counts as receiving, not yet as served.
    await pollUntil(async () => (await rawRequest(address, 'GET', '/internal/state')).json().receiving >= 1);
    const exited = node.stop('SIGTERM');
    // The node stops taking new requests while it drains…
    await pollUntil(async () => {
      try {
        const res = await rawRequest(address, 'GET', '/healthz');
        return res.status === 503 && res.json().code === 'SHUTTING_DOWN';
      } catch {
        return true; // …or already refuses connections.
      }
    });
    // …but the request it had already started completes.
    inFlight.req!.end('world');
    assert.equal(await response, 204);
    assert.deepEqual(await exited, { code: 0, signal: null });

    await cluster!.start(address);
    const res = await rawRequest(address, 'GET', '/kv/in-flight');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'helloworld');
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
