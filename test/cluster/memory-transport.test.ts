/**
 * The network seam's in-memory twin (net/memory-transport.ts): requests and streams reach the
 * handler listening on an address; drops, partitions (both ways and one way) and healing behave
 * as a network would; the same seed drops the same requests; and the client library runs over
 * it unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { Client, ClientError, ConnectionError } from '../../net/index.ts';
import { MemoryNetwork, type MemoryHandler } from '../../net/memory-transport.ts';

const A = '10.0.0.1:7001';
const B = '10.0.0.2:7001';
const encoder = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const echo: MemoryHandler = async (request) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: encoder.encode(`${request.from} ${request.method} ${request.path}`) });

function network(options: { seed?: number; dropRate?: number; latencyMs?: [number, number] } = {}): MemoryNetwork {
  return new MemoryNetwork({ random: seededRandom(options.seed ?? 1), dropRate: options.dropRate, latencyMs: options.latencyMs });
}

describe('the in-memory network', () => {
  it('delivers a request to the handler listening on the address, with latency', async () => {
    const net = network({ latencyMs: [1, 3] });
    net.listen(A, echo);
    const res = await net.transport('client').request(A, { method: 'GET', path: '/x', headers: {} });
    assert.equal(res.status, 200);
    assert.equal(text(res.body), 'client GET /x');
    assert.equal(net.counts.delivered, 1);
  });

  it('refuses a connection where nothing listens, and after the listener stops', async () => {
    const net = network();
    const stop = net.listen(A, echo);
    stop();
    await assert.rejects(net.transport('c').request(A, { method: 'GET', path: '/', headers: {} }), ConnectionError);
    await assert.rejects(net.transport('c').request(B, { method: 'GET', path: '/', headers: {} }), ConnectionError);
    assert.equal(net.counts.refused, 2);
  });

  it('cuts both ways, or one way, and heals', async () => {
    const net = network();
    net.listen(A, echo);
    net.listen(B, echo);
    net.partition(A, B);
    await assert.rejects(net.transport(A).request(B, { method: 'GET', path: '/', headers: {} }), /partition/);
    await assert.rejects(net.transport(B).request(A, { method: 'GET', path: '/', headers: {} }), /partition/);
    net.heal();
    assert.equal((await net.transport(A).request(B, { method: 'GET', path: '/', headers: {} })).status, 200);
    // One way: A's requests leave but B's answers do not come back, so A sees a loss.
    net.partition(B, A, true);
    await assert.rejects(net.transport(A).request(B, { method: 'GET', path: '/', headers: {} }), /response was lost/);
    assert.equal(net.counts.delivered, 2, 'the request reached B before its answer was lost');
  });

  it('drops the same requests for the same seed', async () => {
    const outcomes = async (seed: number) => {
      const net = network({ seed, dropRate: 0.5 });
      net.listen(A, echo);
      const results: boolean[] = [];
      for (let i = 0; i < 40; i++) results.push(await net.transport('c').request(A, { method: 'GET', path: '/', headers: {} }).then(() => true, () => false));
      return results;
    };
    const first = await outcomes(7);
    assert.deepEqual(await outcomes(7), first);
    assert.ok(first.includes(true) && first.includes(false), 'a rate of 0.5 over 40 requests both delivers and drops');
  });

  it('streams chunks, breaks the stream on a partition, and ends quietly on close', async () => {
    const net = network();
    let release: (() => void) | undefined;
    net.listen(A, async () => ({
      status: 200, headers: {},
      chunks: (async function* () {
        yield encoder.encode('one');
        await new Promise<void>((resolve) => (release = resolve));
        yield encoder.encode('two');
      })(),
    }));
    const stream = await net.transport(B).stream(A, { method: 'GET', path: '/s', headers: {}, connectTimeoutMs: 1000 });
    const it = stream.chunks[Symbol.asyncIterator]();
    assert.equal(text((await it.next()).value as Uint8Array), 'one');
    const next = it.next();
    net.partition(A, B);
    release!();
    await assert.rejects(next, /stream cut off/);
    net.heal();
    const again = await net.transport(B).stream(A, { method: 'GET', path: '/s', headers: {}, connectTimeoutMs: 1000 });
    const chunks: string[] = [];
    for await (const chunk of again.chunks) {
      chunks.push(text(chunk));
      again.close();
    }
    assert.deepEqual(chunks, ['one']);
  });

  it('carries the client library: routing, and an UNAVAILABLE error when the leader is cut off', async () => {
    const net = network({ latencyMs: [0, 2] });
    const topology = { version: 1, ring: { hash: 'xxhash64', placement: 'sectored', vnodes: 8 }, shards: [{ name: 's0', leader: A, replicas: [], term: 1 }] };
    const store = new Map<string, Uint8Array>();
    net.listen(A, async (request) => {
      if (request.path === '/cluster') return { status: 200, headers: { 'content-type': 'application/json' }, body: encoder.encode(JSON.stringify(topology)) };
      const key = request.path.slice('/kv/'.length).split('?')[0]!;
      if (request.method === 'PUT') {
        store.set(key, request.body!);
        return { status: 204, headers: { 'x-seq': String(store.size) }, body: new Uint8Array(0) };
      }
      const value = store.get(key);
      return value ? { status: 200, headers: {}, body: value } : { status: 404, headers: { 'content-type': 'application/json' }, body: encoder.encode('{"code":"KEY_NOT_FOUND","message":"no such key"}') };
    });
    const client = await Client.connect([A], { transport: net.transport('client'), retriesMax: 2, retryDelayMs: 1 });
    assert.equal(await client.put('k', 'v'), 1);
    assert.equal(text((await client.get('k'))!), 'v');
    net.partition('client', A);
    await assert.rejects(client.get('k'), (error: ClientError) => error.code === 'UNAVAILABLE');
    net.heal();
    assert.equal(text((await client.get('k'))!), 'v');
    client.close();
  });
});
