/**
 * The routing client against a scripted transport (the network seam): redirects, retries,
 * topology refresh, scan merging, error reporting, replica reads with min_seq and acks, with
 * no sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS, decodeBatch, encodeBinaryMultiGet, encodeMultiGet, percentEncode, Topology, type TopologyJson } from '../../cluster/index.ts';
import { Client, ClientError, ConnectionError, type Transport, type TransportRequest, type TransportResponse } from '../../net/index.ts';

const A = '10.0.0.1:1';
const B = '10.0.0.2:2';
const R = '10.0.0.3:3';
const OUTSIDER = '10.9.9.9:9';
const TOKEN = 'client-test-token-0123';
const encoder = new TextEncoder();

const topologyJson = (version = 1): TopologyJson => ({
  version,
  ring: { hash: 'xxhash64', placement: 'sectored', vnodes: 16 },
  shards: [{ name: 'a', leader: A, replicas: [R], term: 1 }, { name: 'b', leader: B, replicas: [], term: 1 }],
});
const topology = Topology.fromJson(topologyJson());
/** 3 shards of 3 nodes: more nodes than a refresh asks. */
const WIDE_NODES = Array.from({ length: 9 }, (_, i) => `10.0.1.${i + 1}:1`);
const wideTopology = (version = 1): TopologyJson => ({
  version,
  ring: { hash: 'xxhash64', placement: 'sectored', vnodes: 16 },
  shards: [0, 1, 2].map((s) => ({ name: `s${s}`, leader: WIDE_NODES[s * 3]!, replicas: WIDE_NODES.slice(s * 3 + 1, s * 3 + 3), term: 1 })),
});
const keyOn = (shard: string) => {
  for (let i = 0; ; i++) if (topology.shardOf(encoder.encode(`k${i}`)).name === shard) return `k${i}`;
};

type Handler = (address: string, request: TransportRequest) => TransportResponse;
interface Sent { address: string; request: TransportRequest }

function fake(handler: Handler): { transport: Transport; sent: Sent[] } {
  const sent: Sent[] = [];
  const transport: Transport = {
    async request(address, request) {
      sent.push({ address, request });
      if (request.path === '/cluster') return json(200, topologyJson());
      return handler(address, request);
    },
    stream: () => Promise.reject(new Error('the client opens no streams')),
    close() {},
  };
  return { transport, sent };
}

const json = (status: number, body: unknown): TransportResponse => ({ status, headers: { 'content-type': 'application/json' }, body: encoder.encode(JSON.stringify(body)) });
const written = (seq: number): TransportResponse => ({ status: 204, headers: { 'x-seq': String(seq) }, body: new Uint8Array(0) });
const redirect = (to: string, path: string): TransportResponse => ({ status: 307, headers: { location: `http://${to}${path}` }, body: new Uint8Array(0) });
const connect = (transport: Transport) => Client.connect([A], { transport, token: TOKEN, retryDelayMs: 0 });

describe('Client', () => {
  it('sends each key straight to the leader the ring names', async () => {
    const { transport, sent } = fake(() => written(7));
    const client = await connect(transport);
    for (const shard of ['a', 'b']) assert.equal(await client.put(keyOn(shard), 'v'), 7);
    assert.deepEqual(sent.filter((s) => s.request.method === 'PUT').map((s) => s.address), [A, B]);
  });

  it('follows a 307 with the same method, body and token, and refreshes its topology', async () => {
    const key = keyOn('a');
    const path = `/kv/${percentEncode(encoder.encode(key))}`;
    const { transport, sent } = fake((address) => (address === A && sent.filter((s) => s.address === A && s.request.method === 'PUT').length === 1 ? redirect(B, path) : written(3)));
    const client = await connect(transport);
    const atConnect = sent.filter((s) => s.request.path === '/cluster').length;
    assert.equal(await client.put(key, 'body'), 3);
    const puts = sent.filter((s) => s.request.method === 'PUT');
    assert.deepEqual(puts.map((s) => s.address), [A, B]);
    assert.ok(puts.every((s) => s.request.headers['Authorization'] === `Bearer ${TOKEN}` && Buffer.from(s.request.body!).toString() === 'body'));
    assert.ok(sent.filter((s) => s.request.path === '/cluster').length > atConnect, 'topology fetched again after the redirect');
  });

  it('follows a 308 (a key moved away for good by a migration) on reads, writes and multi-gets, without an error', async () => {
    const key = keyOn('a');
    const path = `/kv/${percentEncode(encoder.encode(key))}`;
    const moved = (to: string, p: string): TransportResponse => ({ ...redirect(to, p), status: 308 });
    const { transport, sent } = fake((address, request) => {
      if (address !== A) return request.method === 'GET' ? { status: 200, headers: {}, body: encoder.encode('there') } : request.path === '/batch' ? { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: encodeBinaryMultiGet([encoder.encode('there')]) } : written(4);
      return moved(B, request.path);
    });
    const client = await connect(transport);
    assert.equal(await client.put(key, 'v'), 4);
    assert.equal(Buffer.from((await client.get(key))!).toString(), 'there');
    assert.deepEqual((await client.getMany([key])).map((v) => Buffer.from(v!).toString()), ['there']);
    const atA = sent.filter((s) => s.address === A && s.request.path !== '/cluster').map((s) => s.request.method);
    assert.deepEqual(atA, ['PUT', 'GET', 'POST'], 'each went to A first, was answered 308, then followed to B');
    assert.ok(sent.some((s) => s.address === B && s.request.path === path && s.request.method === 'PUT'));
  });

  it('refreshes its topology when a node answers with a newer metadata version', async () => {
    const { transport, sent } = fake(() => ({ ...written(5), headers: { 'x-seq': '5', 'x-version': '2' } }));
    const client = await connect(transport);
    const atConnect = sent.filter((s) => s.request.path === '/cluster').length;
    await client.put(keyOn('b'), 'v');
    assert.ok(sent.filter((s) => s.request.path === '/cluster').length > atConnect, 'topology fetched again');
  });

  it('takes the newest topology among the nodes, not the first answer (a deposed leader answers with its old one)', async () => {
    let newest = 1;
    const transport: Transport = {
      async request(address, request) {
        if (request.path !== '/cluster') return written(1);
        // A answers at once with the topology that still names it; B and R, a moment later, know a newer one.
        if (address !== A) await new Promise((resolve) => setTimeout(resolve, 20));
        return json(200, topologyJson(address === A ? 1 : newest));
      },
      stream: () => Promise.reject(new Error('the client opens no streams')),
      close() {},
    };
    const client = await connect(transport);
    newest = 9;
    assert.equal((await client.refreshTopology()).version, 9);
  });

  it('asks a few nodes, chosen at random, for each refresh, not every node it knows', async () => {
    // 50 clients refreshing after every failed attempt of a failover, each asking all 9 nodes,
    // kept a 2-core cluster too busy to grant the new leader its lease: p99 failover 3.1-3.4 s
    // against 2.3 s asking 4 (docs/failover.md).
    const asked: string[][] = [];
    let current: string[] = [];
    const transport: Transport = {
      async request(address, request) {
        if (request.path !== '/cluster') return written(1);
        current.push(address);
        return json(200, wideTopology());
      },
      stream: () => Promise.reject(new Error('the client opens no streams')),
      close() {},
    };
    const client = await Client.connect([WIDE_NODES[0]!], { transport });
    for (let i = 0; i < 20; i++) {
      current = [];
      await client.refreshTopology();
      asked.push(current);
    }
    for (const round of asked) assert.ok(round.length >= 1 && round.length <= 4, `one refresh asked ${round.length} nodes: ${round.join(', ')}`);
    const everyAsked = new Set(asked.flat());
    assert.ok(everyAsked.size >= 6, `20 refreshes spread over ${everyAsked.size} of the 9 nodes`);
  });

  it('asks first the node that showed a newer topology version', async () => {
    // A refresh of a few nodes at random could miss the one newer node: the client would refresh again on every answer.
    const newer = WIDE_NODES[3]!; // the leader of s1
    for (let round = 0; round < 10; round++) {
      const transport: Transport = {
        async request(address, request) {
          if (request.path === '/cluster') return json(200, wideTopology(address === newer ? 2 : 1));
          return { ...written(1), headers: { 'x-seq': '1', 'x-version': '2' } };
        },
        stream: () => Promise.reject(new Error('the client opens no streams')),
        close() {},
      };
      const client = await Client.connect([WIDE_NODES[0]!], { transport });
      const key = (() => {
        const t = Topology.fromJson(wideTopology());
        for (let i = 0; i < 10_000; i++) if (t.shardOf(encoder.encode(`k${i}`)).leader === newer) return `k${i}`;
        throw new Error(`no key of ${newer}'s shard`);
      })();
      if (client.currentTopology().version === 2) continue; // the first fetch happened to ask it
      await client.put(key, 'v');
      assert.equal(client.currentTopology().version, 2, `round ${round}: the refresh after X-Version 2 from ${newer} got version ${client.currentTopology().version}`);
    }
  });

  it('gives up after redirectHopsMax redirects', async () => {
    const { transport, sent } = fake((address, request) => redirect(address === A ? B : A, request.path));
    const client = await Client.connect([A], { transport, redirectHopsMax: 3 });
    await assert.rejects(client.get(keyOn('a')), (error: ClientError) => error.code === 'TOO_MANY_REDIRECTS');
    assert.equal(sent.filter((s) => s.request.method === 'GET' && s.request.path !== '/cluster').length, 4);
  });

  it('does not follow a redirect out of the cluster, so the token stays in', async () => {
    const { transport, sent } = fake(() => redirect(OUTSIDER, '/steal'));
    const client = await connect(transport);
    await assert.rejects(client.get(keyOn('a')), (error: ClientError) => error.code === 'REDIRECT_OUTSIDE_CLUSTER');
    assert.ok(!sent.some((s) => s.address === OUTSIDER));
  });

  it('checks a redirect against the topology it held before, so the redirecting node cannot vouch for its target', async () => {
    // The redirecting node also answers the refresh, with a topology that names the outsider.
    const sent: Sent[] = [];
    const hostile = topologyJson(2);
    hostile.shards[0]!.leader = OUTSIDER;
    const transport: Transport = {
      async request(address, request) {
        sent.push({ address, request });
        if (request.path === '/cluster') return json(200, sent.some((s) => s.request.method === 'GET' && s.request.path !== '/cluster') ? hostile : topologyJson());
        return redirect(OUTSIDER, request.path);
      },
      stream: () => Promise.reject(new Error('the client opens no streams')),
      close() {},
    };
    const client = await connect(transport);
    await assert.rejects(client.get(keyOn('a')), (error: ClientError) => error.code === 'REDIRECT_OUTSIDE_CLUSTER');
    assert.deepEqual(sent.filter((s) => s.address === OUTSIDER).map((s) => s.request.path), [], 'nothing, and no token, went to the outsider');
  });

  it('follows a redirect for the keys ".." and "." to the path the node wrote, without resolving dot segments', async () => {
    for (const key of ['..', '.']) {
      const encoded = '%2E'.repeat(key.length);
      const first = topology.shardOf(encoder.encode(key)).leader;
      const other = first === A ? B : A;
      const { transport, sent } = fake((address) => (address === first ? redirect(other, `/kv/${encoded}?sync=true`) : written(4)));
      const client = await connect(transport);
      assert.equal(await client.put(key, 'v', { sync: true }), 4);
      const puts = sent.filter((s) => s.request.method === 'PUT');
      assert.deepEqual(puts.map((s) => [s.address, s.request.path]), [[first, `/kv/${key}?sync=true`], [other, `/kv/${encoded}?sync=true`]], `key ${key}`);
    }
  });

  it('retries an idempotent request after connection errors', async () => {
    let failures = 2;
    const { transport, sent } = fake((address) => {
      if (failures-- > 0) throw new ConnectionError(address, 'connect ECONNREFUSED');
      return { status: 200, headers: {}, body: encoder.encode('value') };
    });
    const client = await connect(transport);
    assert.equal(Buffer.from((await client.get(keyOn('b')))!).toString(), 'value');
    assert.equal(sent.filter((s) => s.request.method === 'GET' && s.request.path !== '/cluster').length, 3);
  });

  it('stops retrying after retriesMax and reports UNAVAILABLE', async () => {
    const { transport } = fake((address) => {
      throw new ConnectionError(address, 'connect ECONNREFUSED');
    });
    const client = await Client.connect([A], { transport, retriesMax: 2, retryDelayMs: 0 });
    await assert.rejects(client.delete(keyOn('a')), (error: ClientError) => error.code === 'UNAVAILABLE' && error.cause instanceof ConnectionError);
  });

  it('does not retry a batch, whose reply may have been lost after it was applied', async () => {
    const { transport, sent } = fake((address) => {
      throw new ConnectionError(address, 'socket hang up');
    });
    const client = await connect(transport);
    await assert.rejects(client.batch([{ type: 'put', key: keyOn('a'), value: 'v' }]), (error: ClientError) => error.code === 'UNAVAILABLE');
    assert.equal(sent.filter((s) => s.request.method === 'POST').length, 1);
  });

  it('refuses a batch across shards before sending it', async () => {
    const { transport, sent } = fake(() => written(1));
    const client = await connect(transport);
    const theirs = keyOn('b');
    await assert.rejects(client.batch([{ type: 'del', key: keyOn('a') }, { type: 'del', key: theirs }]), (error: ClientError) => error.code === 'WRONG_SHARD' && error.message.includes(theirs));
    assert.ok(!sent.some((s) => s.request.method === 'POST'));
  });

  it('reports a node\'s error with its code and status, and a missing key as undefined', async () => {
    const { transport } = fake((_, request) => (request.method === 'GET'
      ? json(404, { code: 'KEY_NOT_FOUND', message: 'no such key' })
      : json(413, { code: 'VALUE_TOO_LARGE', message: 'too big' })));
    const client = await connect(transport);
    assert.equal(await client.get(keyOn('a')), undefined);
    await assert.rejects(client.put(keyOn('a'), 'x'), (error: ClientError) => error.code === 'VALUE_TOO_LARGE' && error.status === 413);
  });

  it('merges pages from every shard into one sorted scan and honours the limit', async () => {
    const data: Record<string, string[]> = { [A]: ['a1', 'a3', 'a5', 'a7'], [B]: ['a2', 'a4', 'a6'] };
    const { transport, sent } = fake((address, request) => {
      const query = new URLSearchParams(request.path.split('?')[1]);
      const after = query.get('gt');
      const limit = Number(query.get('limit'));
      const rest = data[address]!.filter((k) => after === null || k > after);
      const page = rest.slice(0, limit);
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      return json(200, { encoding: 'base64', entries: page.map((k) => ({ key: b64(k), value: b64(`v${k}`) })), more: rest.length > limit });
    });
    const client = await Client.connect([A], { transport, scanPageEntries: 2 });
    const all: string[] = [];
    for await (const [key, value] of client.scan()) {
      assert.equal(Buffer.from(value).toString(), `v${Buffer.from(key).toString()}`);
      all.push(Buffer.from(key).toString());
    }
    assert.deepEqual(all, ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7']);
    assert.ok(sent.some((s) => s.request.path.includes('gt=a3')), 'the second page of A starts after its first page');
    const some: string[] = [];
    for await (const [key] of client.scan({ limit: 3 })) some.push(Buffer.from(key).toString());
    assert.deepEqual(some, ['a1', 'a2', 'a3']);
  });

  it('refuses bad arguments without sending anything', async () => {
    const { transport } = fake(() => written(1));
    const client = await connect(transport);
    await assert.rejects(client.get(''), (error: ClientError) => error.code === 'INVALID_ARGUMENT');
    await assert.rejects(Client.connect(['no-port'], { transport }), (error: ClientError) => error.code === 'INVALID_ARGUMENT');
  });

  it('reads from a replica with min_seq at its own last write on the shard, and follows the replica to the leader', async () => {
    const key = keyOn('a');
    const path = `/kv/${percentEncode(encoder.encode(key))}`;
    const { transport, sent } = fake((address, request) => {
      if (request.method === 'PUT') return written(41);
      // The replica has not applied 41 yet: it sends the reader to the leader, query and all.
      if (address === R) return redirect(A, request.path);
      return { status: 200, headers: {}, body: encoder.encode('fresh') };
    });
    const client = await Client.connect([A], { transport, readFrom: 'replica' });
    assert.equal(client.lastSequence('a'), undefined);
    await client.put(key, 'fresh');
    assert.equal(client.lastSequence('a'), 41);
    assert.equal(Buffer.from((await client.get(key))!).toString(), 'fresh');
    const reads = sent.filter((s) => s.request.method === 'GET' && s.request.path !== '/cluster');
    assert.deepEqual(reads.map((s) => [s.address, s.request.path]), [[R, `${path}?read=replica&min_seq=41`], [A, `${path}?read=replica&min_seq=41`]]);
    // Per read, the leader; and a shard with no write yet is read with no min_seq.
    await client.get(key, { readFrom: 'leader' });
    assert.equal(sent.at(-1)!.request.path, path);
    await client.get(keyOn('b'));
    assert.ok(!sent.at(-1)!.request.path.includes('min_seq'));
  });

  it('sends acks with each write, and an acks 0 write resolves to no sequence number', async () => {
    const { transport, sent } = fake((_, request) => (request.path.includes('acks=0') ? { status: 202, headers: {}, body: new Uint8Array(0) } : written(9)));
    const client = await Client.connect([A], { transport, acks: 'all' });
    assert.equal(await client.put(keyOn('a'), 'v'), 9);
    assert.match(sent.at(-1)!.request.path, /\?acks=all$/);
    assert.equal(await client.delete(keyOn('a'), { acks: 1, sync: true }), 9);
    assert.match(sent.at(-1)!.request.path, /\?sync=true&acks=1$/);
    assert.equal(await client.put(keyOn('a'), 'v', { acks: 0 }), undefined);
    assert.equal(client.lastSequence('a'), 9, 'an unacknowledged write moves nothing');
    // A server whose default is acks=0 answers 202 to a write that did not say: no number to return.
    const accepting = fake(() => ({ status: 202, headers: {}, body: new Uint8Array(0) }));
    const plain = await Client.connect([A], { transport: accepting.transport });
    await assert.rejects(plain.put(keyOn('a'), 'v'), (error: ClientError) => error.code === 'BAD_RESPONSE' && /acks=0/.test(error.message));
  });

  it('resends a binary batch or multi-get refused 415 by an older node as JSON, and sends that node JSON from then on', async () => {
    const stored = new Map<string, string>();
    // A node from before the binary format: JSON only, as it was.
    const { transport, sent } = fake((_address, request) => {
      if (request.headers['Content-Type'] !== 'application/json') return json(415, { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'POST /batch needs Content-Type application/json' });
      const batch = decodeBatch(request.body!, DEFAULT_LIMITS);
      if (batch.kind === 'read') return { status: 200, headers: { 'content-type': 'application/json' }, body: encodeMultiGet(batch.keys.map((k) => stored.has(Buffer.from(k).toString()) ? encoder.encode(stored.get(Buffer.from(k).toString())!) : undefined), 'base64') };
      for (const op of batch.ops) if (op.type === 'put') stored.set(Buffer.from(op.key).toString(), Buffer.from(op.value).toString());
      return written(9);
    });
    const client = await connect(transport);
    const key = keyOn('a');
    assert.equal(await client.batch([{ type: 'put', key, value: 'old node' }]), 9);
    assert.deepEqual((await client.getMany([key, key])).map((v) => v && Buffer.from(v).toString()), ['old node', 'old node']);
    assert.equal(await client.batch([{ type: 'del', key }]), 9);
    const types = sent.filter((s) => s.request.path === '/batch').map((s) => s.request.headers['Content-Type']);
    assert.deepEqual(types, ['application/octet-stream', 'application/json', 'application/json', 'application/json'], 'binary once, then JSON: the retry and every later batch to that node');
  });

  it('tries binary first on a multi-get to a node not yet seen refusing it, and falls back there too', async () => {
    const { transport, sent } = fake((_address, request) => request.headers['Content-Type'] === 'application/json'
      ? json(200, { encoding: 'base64', values: [Buffer.from('v').toString('base64')] })
      : json(415, { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'JSON only' }));
    const client = await connect(transport);
    assert.deepEqual((await client.getMany([keyOn('a')])).map((v) => Buffer.from(v!).toString()), ['v']);
    assert.deepEqual(sent.filter((s) => s.request.path === '/batch').map((s) => s.request.headers['Content-Type']), ['application/octet-stream', 'application/json']);
  });

  it('gives up with the node\'s error when it refuses the JSON resend too, resending once', async () => {
    const { transport, sent } = fake(() => json(415, { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'no' }));
    const client = await connect(transport);
    await assert.rejects(client.getMany([keyOn('a')]), (error: ClientError) => error.code === 'UNSUPPORTED_MEDIA_TYPE' && error.status === 415);
    assert.equal(sent.filter((s) => s.request.path === '/batch').length, 2, 'binary, then JSON once, then the error');
  });

  it('reports a malformed or wrongly typed multi-get answer as BAD_RESPONSE, not as a bad request', async () => {
    const answers: TransportResponse[] = [
      { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: encoder.encode('DKM1 and then nonsense') },
      { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: encodeBinaryMultiGet([encoder.encode('a'), undefined]) },
      { status: 200, headers: { 'content-type': 'application/json' }, body: encoder.encode('{"encoding":"base64","values":[1]}') },
      { status: 200, headers: { 'content-type': 'text/html' }, body: encodeBinaryMultiGet([encoder.encode('a')]) },
      { status: 200, headers: {}, body: encodeBinaryMultiGet([encoder.encode('a')]) },
    ];
    for (const answer of answers) {
      const client = await connect(fake(() => answer).transport);
      await assert.rejects(client.getMany([keyOn('a')]), (error: ClientError) => error.code === 'BAD_RESPONSE' && /multi-get/.test(error.message), String(answer.headers['content-type']));
    }
  });
});
