/**
 * A node attacked the way a hostile neighbour would (issue 16, findings 4 to 7 and 12), on
 * real node processes over raw sockets: clients that stall (bodies that never finish,
 * replication streams nobody reads), pipelined writes whose order matters, JSON built to
 * make the parser do a million times the work of its bytes, requests a web page makes a
 * browser send (a rebound Host, a foreign Origin, a form's content type), and keys whose
 * redirect a client would resolve away (`..`, `.`).
 *
 * One shard: a leader, one running replica, and three more replicas listed in the config but
 * never started, whose names the stalled streams use (a follower's name must be a member's);
 * one controller. Forged follower identities (finding 3) are forged-follower.integration.test.ts's.
 * `inflight_requests_max` is small, so that anything still counted as served would fill it.
 *
 * Figures (time to refuse, resident memory growth of the node) are printed as `# …` lines;
 * bounds on memory and on bytes read are asserted, time is not (docs/security.md has them).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { statusOf } from '../../protocol/errors.ts';
import { Client } from '../../net/index.ts';
import { CONTROL_TOML_STEADY, startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest, type RawResponse } from '../helpers/http.ts';
import { findNodePid, peakResidentBytes, residentBytes, resetPeakResident } from './node-probe.ts';
import { parseResponse, sendPipelined } from './raw-http.ts';

const TOKEN = 'hostile-token-0123456789abcdef';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const INFLIGHT_REQUESTS_MAX = 4;
/** Also how long a response may stop moving before the node cuts it. */
const REQUEST_TIMEOUT_MS = 10_000;
const STALLED_BODIES = 256;
/** Generous bounds for "eventually" on a loaded 2-core machine; never timing assertions. */
const WAIT_MS_MAX = 60_000;
const CLIENT_DEADLINE_MS = 30_000;
const MIB = 1024 * 1024;
const AMPLIFIED_BATCH_BYTES = 32 * MIB;
const AMPLIFIED_INTERNAL_BYTES = 64 * MIB;
const RSS_GROWTH_BYTES_MAX = 64 * MIB;
/** A large body is written in pieces this size, so that what the node took can be counted. */
const BODY_PIECE_BYTES = 64 * 1024;

describe('a node under hostile input', () => {
  let cluster: TestCluster | undefined;
  let leader = '';
  let replica = '';
  let silentReplicas: string[] = [];
  after(() => cluster?.close());

  before(async () => {
    cluster = await startCluster({
      shards: 1,
      replicas: 4,
      deferred: (shard) => shard.replicas.slice(1),
      controllers: 1,
      controlToml: CONTROL_TOML_STEADY,
      clusterToml: `token = "${TOKEN}"`,
      limitsToml: `inflight_requests_max = ${INFLIGHT_REQUESTS_MAX}\nrequest_timeout_ms = ${REQUEST_TIMEOUT_MS}`,
    });
    leader = cluster.shards[0]!.leader;
    [replica, ...silentReplicas] = cluster.shards[0]!.replicas as [string, ...string[]];
    assert.equal((await rawRequest(leader, 'PUT', '/kv/seed', { body: 'seeded' })).status, 204);
  });

  it('keeps /healthz, reads and writes answering while 256 chunked request bodies stall', async () => {
    const stalled = await Promise.all(Array.from({ length: STALLED_BODIES }, (_, i) => openStalled(leader, `PUT /kv/stalled-${i} HTTP/1.1\r\nHost: ${leader}\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly-half`)));
    try {
      await waitState(leader, `${STALLED_BODIES} bodies arriving`, (state) => state['receiving'] === STALLED_BODIES);
      await expectServing(leader, 'while bodies stall');
    } finally {
      for (const socket of stalled) socket.destroy();
    }
    await waitState(leader, 'no body arriving once the stalled clients left', (state) => state['receiving'] === 0);
  });

  it('keeps answering while replication streams stall, and cuts each once it made no progress for request_timeout_ms', async () => {
    // Enough data that a stream's socket buffers fill and its writes stall.
    for (let i = 0; i < 24; i++) assert.equal((await rawRequest(leader, 'PUT', `/kv/bulk-${i}`, { body: Buffer.alloc(MIB, i) })).status, 204);
    const term = (await rawRequest(leader, 'GET', '/healthz')).json().term as number;
    const streams = await Promise.all(silentReplicas.map((node) => openStalled(leader, streamRequest(leader, node, term), true)));
    try {
      await waitState(leader, `${silentReplicas.length + 1} open streams`, (state) => state['streams'] === silentReplicas.length + 1);
      await expectServing(leader, 'while streams stall');
      // The stalled streams are cut; the running replica, which reads, keeps its stream.
      await waitState(leader, 'the stalled streams cut', (state) => state['streams'] === 1);
    } finally {
      for (const socket of streams) socket.destroy();
    }
    assert.deepEqual(await replicaStatus(leader), [replica], 'the replica that reads still streams');
  });

  it('answers pipelined requests in order: PUT then DELETE leaves the key deleted, PUT then GET sees it', async () => {
    // Each pipeline on a connection of its own, shorter than inflight_requests_max, so that
    // only the order of the work is tested, not the limit.
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) {
      const key = `piped-${i}`;
      const deleted = await sendPipelined(leader, Buffer.from([
        `PUT /kv/${key} HTTP/1.1\r\nHost: ${leader}\r\nContent-Length: 5\r\n\r\nvalue`,
        `DELETE /kv/${key} HTTP/1.1\r\nHost: ${leader}\r\n\r\n`,
        `GET /kv/${key} HTTP/1.1\r\nHost: ${leader}\r\n\r\n`,
      ].join(''), 'latin1'), ['PUT', 'DELETE', 'GET'], CLIENT_DEADLINE_MS);
      const kept = await sendPipelined(leader, Buffer.from([
        `PUT /kv/${key}-kept HTTP/1.1\r\nHost: ${leader}\r\nContent-Length: 4\r\n\r\nkept`,
        `GET /kv/${key}-kept HTTP/1.1\r\nHost: ${leader}\r\n\r\n`,
      ].join(''), 'latin1'), ['PUT', 'GET'], CLIENT_DEADLINE_MS);
      answers.push([...deleted, ...kept].map((r) => `${r.status}${r.status === 200 ? ` ${r.body.toString()}` : ''}`).join(', '));
      assert.equal((await rawRequest(leader, 'GET', `/kv/${key}`)).status, 404, `${key} stays deleted`);
    }
    assert.deepEqual(answers, Array.from({ length: 10 }, () => '204, 204, 404, 204, 200 kept'));
  });

  it('refuses a 32 MiB batch of empty operations before reading or parsing it, with little memory', async (t) => {
    const body = amplified('{"ops":[', '{}', ']}', AMPLIFIED_BATCH_BYTES);
    const refusal = await measureRefusal(leader, 'POST', '/batch', body, {});
    t.diagnostic(`32 MiB batch of {}: refused ${refusal.status} in ${refusal.ms.toFixed(1)} ms after the first byte; the kernel had taken ${(refusal.sentBytes / MIB).toFixed(2)} MiB of it; node RSS growth ${mib(refusal.rssGrowthBytes)}`);
    assert.equal(refusal.status, 400);
    assert.equal(refusal.code, 'BAD_BATCH');
    assert.match(refusal.message, /over \d+ JSON separators and brackets; a batch holds at most 10000 operations/);
    assert.ok(refusal.sentBytes < body.length, `the node read all ${body.length} bytes before refusing`);
    if (refusal.rssGrowthBytes !== undefined) assert.ok(refusal.rssGrowthBytes < RSS_GROWTH_BYTES_MAX, `node RSS grew ${mib(refusal.rssGrowthBytes)}`);
    await expectServing(leader, 'after the batch');
  });

  it('refuses a 64 MiB internal JSON body of empty objects before parsing it', async (t) => {
    const body = amplified('{"node":[', '{}', ']}', AMPLIFIED_INTERNAL_BYTES);
    const refusal = await measureRefusal(leader, 'POST', '/internal/replication/ack', body, AUTH);
    t.diagnostic(`64 MiB position report of {}: refused ${refusal.status} in ${refusal.ms.toFixed(1)} ms; the kernel had taken ${(refusal.sentBytes / MIB).toFixed(2)} MiB of it; node RSS growth ${mib(refusal.rssGrowthBytes)}`);
    assert.equal(refusal.code, 'BODY_TOO_COMPLEX');
    assert.equal(refusal.status, statusOf('BODY_TOO_COMPLEX'));
    assert.ok(refusal.sentBytes < body.length, `the node read all ${body.length} bytes before refusing`);
    if (refusal.rssGrowthBytes !== undefined) assert.ok(refusal.rssGrowthBytes < RSS_GROWTH_BYTES_MAX, `node RSS grew ${mib(refusal.rssGrowthBytes)}`);
  });

  it('refuses a foreign Host, a foreign Origin and a form-typed batch with one-line JSON errors, and accepts its own names', async () => {
    const port = leader.slice(leader.lastIndexOf(':') + 1);
    const refused: [string, Record<string, string>, string, number, string][] = [
      ['a rebound name in Host', { Host: `attacker.example:${port}` }, 'GET', 421, 'FOREIGN_HOST'],
      ['a rebound name in Host, on a write', { Host: 'attacker.example' }, 'PUT', 421, 'FOREIGN_HOST'],
      ['a foreign Origin', { Origin: 'http://attacker.example' }, 'PUT', 403, 'FOREIGN_ORIGIN'],
      ['a loopback Origin on another port', { Origin: 'http://localhost:1' }, 'PUT', 403, 'FOREIGN_ORIGIN'],
      ['Origin: null', { Origin: 'null' }, 'GET', 403, 'FOREIGN_ORIGIN'],
    ];
    for (const [name, headers, method, status, code] of refused) {
      const res = await rawRequest(leader, method, '/kv/seed', { headers, body: method === 'PUT' ? 'x' : undefined });
      expectError(res, status, code, name);
    }
    for (const type of [undefined, 'text/plain', 'application/x-www-form-urlencoded']) {
      const res = await rawRequest(leader, 'POST', '/batch', { headers: type ? { 'Content-Type': type } : {}, body: '{"ops":[{"type":"put","key":"seed","value":"csrf"}]}' });
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', `a batch typed ${type ?? 'nothing'}`);
    }
    const accepted: Record<string, string>[] = [{ Host: leader }, { Host: `localhost:${port}` }, { Host: 'LOCALHOST' }, { Origin: `http://${leader}` }, { Origin: `http://localhost:${port}` }];
    for (const headers of accepted) {
      const res = await rawRequest(leader, 'GET', '/kv/seed', { headers });
      assert.equal(res.status, 200, `${JSON.stringify(headers)}: ${res.body.toString()}`);
      assert.equal(res.body.toString(), 'seeded', 'the refused requests changed nothing');
    }
  });

  it('redirects the keys "..", "." and "a/b" with a Location built from the key, which clients can follow', async () => {
    const cases: [raw: string, key: string, location: string][] = [
      ['..', '..', '%2E%2E'],
      ['%2E', '.', '%2E'],
      ['a/b', 'a/b', 'a%2Fb'],
      ['a%2Fb', 'a/b', 'a%2Fb'],
    ];
    for (const [raw, key, location] of cases) {
      const res = await rawRequest(replica, 'PUT', `/kv/${raw}?sync=true`, { body: `value of ${key}` });
      assert.equal(res.status, 307, `PUT /kv/${raw} on the replica: ${res.body.toString()}`);
      assert.equal(res.headers['location'], `http://${leader}/kv/${location}?sync=true`);
      const followed = await rawRequest(leader, 'PUT', res.headers['location']!.slice(`http://${leader}`.length), { body: `value of ${key}` });
      assert.equal(followed.status, 204, `following ${res.headers['location']}`);
    }
    const client = await Client.connect([replica]);
    try {
      for (const key of ['..', '.', 'a/b']) assert.equal(Buffer.from((await client.get(key))!).toString(), `value of ${key}`, `key ${key}`);
    } finally {
      client.close();
    }
  });
});

/** Checks /healthz, a read, a write and a batch all answer as they would on an idle node. */
async function expectServing(address: string, when: string): Promise<void> {
  const health = await rawRequest(address, 'GET', '/healthz');
  assert.equal(health.status, 200, `/healthz ${when}: ${health.body.toString()}`);
  const read = await rawRequest(address, 'GET', '/kv/seed');
  assert.equal(read.status, 200, `a read ${when}: ${read.body.toString()}`);
  const write = await rawRequest(address, 'PUT', '/kv/written', { body: when });
  assert.equal(write.status, 204, `a write ${when}: ${write.body.toString()}`);
  const batch = await rawRequest(address, 'POST', '/batch', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ops: [{ type: 'put', key: 'batched', value: when }] }) });
  assert.equal(batch.status, 204, `a batch ${when}: ${batch.body.toString()}`);
}

function expectError(res: RawResponse, status: number, code: string, name: string): void {
  assert.equal(res.status, status, `${name}: ${res.body.toString()}`);
  assert.match(String(res.headers['content-type']), /^application\/json/, `${name}: content type`);
  const error = res.json() as { code: string; message: string };
  assert.equal(error.code, code, `${name}: ${error.message}`);
  assert.equal(statusOf(code), status, `${name}: docs/api.md's status for ${code}`);
  assert.ok(error.message.length > 0 && !error.message.includes('\n'), `${name}: a one-line message, got ${JSON.stringify(error.message)}`);
}

/** Polls the node's /internal/state until `ok` holds; fails at once on an answer other than 200. */
async function waitState(address: string, what: string, ok: (state: Record<string, unknown>) => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await rawRequest(address, 'GET', '/internal/state', { headers: AUTH });
    assert.equal(res.status, 200, `/internal/state while waiting for ${what}: ${res.body.toString()}`);
    last = res.json();
    if (ok(last as Record<string, unknown>)) return;
    await delay(50);
  }
  assert.fail(`not within ${WAIT_MS_MAX} ms: ${what}; last state ${JSON.stringify(last)}`);
}

/** The followers the leader has an open stream from. */
async function replicaStatus(address: string): Promise<string[]> {
  const state = (await rawRequest(address, 'GET', '/internal/state', { headers: AUTH })).json() as { replication: { leader?: { followers?: { node: string; connected: boolean }[] } } };
  return (state.replication.leader?.followers ?? []).filter((f) => f.connected).map((f) => f.node);
}

function streamRequest(leader: string, node: string, term: number): string {
  return `GET /internal/replication/stream?node=${encodeURIComponent(node)}&from=1&term=${term}&data_term=0 HTTP/1.1\r\nHost: ${leader}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
}

/**
 * Opens a connection that sends `head` and then nothing more; with `readHead`, it waits for
 * the response head (a stream's 200) and then stops reading.
 */
function openStalled(address: string, head: string, readHead = false): Promise<net.Socket> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    socket.on('error', () => undefined); // The node may cut it; the test looks at the node's state, not this socket.
    socket.once('connect', () => {
      socket.write(head, 'latin1', () => {
        if (!readHead) return resolve(socket);
        let received = Buffer.alloc(0);
        const onData = (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          const end = received.indexOf('\r\n\r\n');
          if (end < 0) return;
          socket.off('data', onData);
          socket.pause();
          const status = /^HTTP\/1\.1 (\d{3})/.exec(received.toString('latin1'))?.[1];
          if (status === '200') resolve(socket);
          else reject(new Error(`stream answered ${status}: ${received.toString('latin1').slice(0, 300)}`));
        };
        socket.on('data', onData);
      });
    });
    socket.once('error', reject);
  });
}

/** `prefix`, then `unit` joined by commas up to about `bytes`, then `suffix`. */
function amplified(prefix: string, unit: string, suffix: string, bytes: number): Buffer {
  const count = Math.floor((bytes - prefix.length - suffix.length) / (unit.length + 1));
  return Buffer.from(`${prefix}${`${unit},`.repeat(count - 1)}${unit}${suffix}`);
}

interface Refusal {
  status: number;
  code: string;
  message: string;
  /** From the first byte written to the whole answer read. */
  ms: number;
  /** Bytes of the body the kernel had taken from the client when the answer came (the node read at most these). */
  sentBytes: number;
  /** How much the node's resident memory peaked above where it was; undefined off Linux. */
  rssGrowthBytes: number | undefined;
}

/** Sends one request with a large body at the pace the node reads it, and measures its refusal. */
async function measureRefusal(address: string, method: string, path: string, body: Buffer, headers: Record<string, string>): Promise<Refusal> {
  const pid = findNodePid(address);
  const peakKnown = pid !== undefined && resetPeakResident(pid);
  const rssBefore = pid === undefined ? undefined : residentBytes(pid);
  const colon = address.lastIndexOf(':');
  const head = `${method} ${path} HTTP/1.1\r\nHost: ${address}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const answer = await new Promise<{ text: Buffer; ms: number; sentBytes: number }>((resolve, reject) => {
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    let received = Buffer.alloc(0);
    let started = 0;
    let offset = 0;
    let sentBytes = 0;
    let done = false;
    const timer = setTimeout(() => finish(new Error(`no answer within ${CLIENT_DEADLINE_MS} ms`)), CLIENT_DEADLINE_MS);
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const ms = performance.now() - started;
      socket.destroy();
      if (error && !parseResponse(received, method, true)) return reject(error);
      resolve({ text: received, ms, sentBytes });
    };
    // The body in pieces, each written once the last is taken: what the node took is counted.
    const pump = () => {
      while (!done && offset < body.length) {
        const piece = body.subarray(offset, offset + BODY_PIECE_BYTES);
        offset += piece.length;
        const more = socket.write(piece, (error) => {
          if (!error) sentBytes += piece.length;
        });
        if (!more) return void socket.once('drain', pump);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (parseResponse(received, method, false)) finish();
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error('closed without an answer')));
    socket.once('connect', () => {
      started = performance.now();
      socket.write(head);
      pump();
    });
  });
  const response = parseResponse(answer.text, method, true)!;
  const error = JSON.parse(response.body.toString('utf8')) as { code: string; message: string };
  let rssGrowthBytes: number | undefined;
  if (pid !== undefined && rssBefore !== undefined) rssGrowthBytes = (peakKnown ? peakResidentBytes(pid) : residentBytes(pid)) - rssBefore;
  return { status: response.status, code: error.code, message: error.message, ms: answer.ms, sentBytes: answer.sentBytes, rssGrowthBytes };
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? 'unknown' : `${(bytes / MIB).toFixed(1)} MiB`;
}
