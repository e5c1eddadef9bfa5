/**
 * The CLI (bin/kv) follows a 308 the way the client library does (issue 15: "the client library
 * and the CLI follow a 308 during a migration without the caller seeing an error"). Two scripted
 * HTTP servers on loopback stand for a giving and a receiving node: the giver answers every
 * key request 308 to the receiver, as a node does once the key's move is done; the receiver
 * serves it. A real migration cannot be made to show the CLI a 308 on demand (the CLI reads a
 * fresh topology as it starts, and routes straight to the new owner), hence the script.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { TopologyJson } from '../../cluster/index.ts';
import { freePorts } from '../helpers/free-ports.ts';
import { runKv } from '../helpers/run-command.ts';

const KV_WAIT_MS = 60_000;
let giver: http.Server;
let receiver: http.Server;
let GIVER = '';
let RECEIVER = '';
const seen: string[] = [];

function listen(handler: http.RequestListener, port: number): Promise<http.Server> {
  const server = http.createServer(handler);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function topology(): TopologyJson {
  // One shard: the giver leads it in the topology the CLI reads; the receiver is a member too,
  // so the redirect's target is a node of the cluster (the client refuses any other).
  return { version: 3, ring: { hash: 'xxhash64', placement: 'sectored', vnodes: 16 }, shards: [{ name: 'a', leader: GIVER, replicas: [RECEIVER], term: 1 }] };
}

before(async () => {
  const [g, r] = await freePorts(2);
  GIVER = `127.0.0.1:${g}`;
  RECEIVER = `127.0.0.1:${r}`;
  giver = await listen((req, res) => {
    seen.push(`giver ${req.method} ${req.url}`);
    if (req.url === '/cluster') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(topology()));
    req.resume();
    res.writeHead(308, { location: `http://${RECEIVER}${req.url}`, 'x-shard': 'b', 'content-length': 0 }).end();
  }, g!);
  receiver = await listen((req, res) => {
    seen.push(`receiver ${req.method} ${req.url}`);
    if (req.url === '/cluster') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(topology()));
    req.resume();
    if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end('moved value');
    res.writeHead(204, { 'x-seq': '41', 'x-shard': 'b', 'x-term': '1' }).end();
  }, r!);
});

after(() => {
  giver?.close();
  receiver?.close();
});

describe('kv against a key that moved for good (308)', () => {
  it('gets and puts through the redirect, exit 0 and no error', async () => {
    const get = await runKv(['--cluster', GIVER, 'get', 'moved-key'], { timeoutMs: KV_WAIT_MS });
    assert.equal(get.code, 0, `exit ${get.code}; stderr: ${get.stderr}`);
    assert.equal(get.stdout.trim(), 'moved value');
    assert.equal(get.stderr.trim(), '');
    const put = await runKv(['--cluster', GIVER, 'put', 'moved-key', 'v'], { timeoutMs: KV_WAIT_MS });
    assert.equal(put.code, 0, `exit ${put.code}; stderr: ${put.stderr}`);
    assert.equal(put.stderr.trim(), 'ok (seq 41)', 'the write is reported at the receiver\'s sequence number, no error');
    for (const method of ['GET', 'PUT']) {
      assert.ok(seen.includes(`giver ${method} /kv/moved-key`), `${method} went to the giver first: ${seen.join(', ')}`);
      assert.ok(seen.includes(`receiver ${method} /kv/moved-key`), `${method} followed the 308 to the receiver: ${seen.join(', ')}`);
    }
  });
});
