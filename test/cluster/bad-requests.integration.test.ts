/**
 * Bad input against a real node: each request in the table gets its documented status and
 * error code as JSON {code, message}; afterwards the node is healthy and its data unchanged.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { encodeBinaryBatch, encodeBinaryGetBatch, KEY_BYTES_MAX, parseConfig, percentEncode, Topology } from '../../cluster/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest, rawSocket } from '../helpers/http.ts';

const TOKEN = 'test-token-0123456789abcdef';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const VALUE_BYTES_MAX = 1024;
const BATCH_OPS_MAX = 10;
// Over a 8193-byte key's batch (so KEY_TOO_LARGE, not BODY_TOO_LARGE), under BATCH_OPS_MAX
// values of VALUE_BYTES_MAX (so a multi-get can be ANSWER_TOO_LARGE).
const BATCH_BYTES_MAX = 9 * 1024;

interface BadRequest {
  name: string;
  method: string;
  path: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  status: number;
  code: string;
  /** A fragment the message must contain. */
  message?: string;
}

describe('a node given bad requests', () => {
  let cluster: TestCluster | undefined;
  let topology: Topology;
  let home: string;
  let mine: string;
  let theirs: string;
  after(() => cluster?.close());

  before(async () => {
    cluster = await startCluster({
      shards: 2,
      clusterToml: `token = "${TOKEN}"`,
      limitsToml: `value_bytes_max = ${VALUE_BYTES_MAX}\nbatch_ops_max = ${BATCH_OPS_MAX}\nbatch_bytes_max = ${BATCH_BYTES_MAX}`,
    });
    topology = Topology.fromConfig(parseConfig(await readFile(cluster.configPath, 'utf8'), { source: 'test' }));
    home = cluster.shards[0]!.leader;
    mine = keyOn(topology, 'shard-0', 'mine');
    theirs = keyOn(topology, 'shard-1', 'theirs');
    // Known data on both shards, including a key that is not UTF-8.
    // A value as large as any: mine asked for BATCH_OPS_MAX times passes batch_bytes_max.
    assert.equal((await rawRequest(home, 'PUT', `/kv/${mine}`, { body: 'o'.repeat(VALUE_BYTES_MAX) })).status, 204);
    assert.equal((await rawRequest(cluster.shards[1]!.leader, 'PUT', `/kv/${theirs}`, { body: 'theirs' })).status, 204);
    assert.equal((await rawRequest(home, 'PUT', `/kv/${binaryKeyOn(topology, 'shard-0')}`, { body: 'bin' })).status, 204);
  });

  it('answers each with its status and code, then is healthy with its data unchanged', async () => {
    const before = await snapshot(cluster!);
    for (const bad of badRequests(mine, theirs)) {
      const res = await rawRequest(home, bad.method, bad.path, { body: bad.body, headers: bad.headers });
      assert.equal(res.status, bad.status, `${bad.name}: status (body ${res.body.toString().slice(0, 200)})`);
      assert.match(String(res.headers['content-type']), /^application\/json/, `${bad.name}: content type`);
      const error = res.json();
      assert.equal(error.code, bad.code, `${bad.name}: code (message ${error.message})`);
      assert.equal(typeof error.message, 'string', `${bad.name}: message`);
      if (bad.message) assert.ok(error.message.includes(bad.message), `${bad.name}: message ${JSON.stringify(error.message)} names ${bad.message}`);
      if (bad.status === 405) assert.ok(res.headers['allow'], `${bad.name}: Allow header`);
    }
    const health = await rawRequest(home, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.json().status, 'ok');
    assert.deepEqual(await snapshot(cluster!), before);
  });

  it('answers malformed HTTP and oversize headers with JSON errors too', async () => {
    const garbage = await rawSocket(home, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.match(garbage, /"code":"BAD_REQUEST"/);
    const huge = await rawSocket(home, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.match(huge, /"code":"HEADERS_TOO_LARGE"/);
    assert.equal((await rawRequest(home, 'GET', '/healthz')).status, 200);
  });
});

function badRequests(mine: string, theirs: string): BadRequest[] {
  const batch = (ops: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ ...extra, ops });
  const json = { 'Content-Type': 'application/json' };
  const manyOps = Array.from({ length: BATCH_OPS_MAX + 1 }, (_, i) => ({ type: 'del', key: `${mine}-${i}` }));
  return [
    { name: 'bad percent-encoding', method: 'GET', path: '/kv/%zz', status: 400, code: 'BAD_PERCENT_ENCODING' },
    { name: 'truncated percent-encoding', method: 'PUT', path: '/kv/abc%2', body: 'x', status: 400, code: 'BAD_PERCENT_ENCODING' },
    { name: 'bad percent-encoding in a scan bound', method: 'GET', path: '/kv?gte=%G0', status: 400, code: 'BAD_PERCENT_ENCODING' },
    { name: 'empty key on GET', method: 'GET', path: '/kv/', status: 400, code: 'EMPTY_KEY' },
    { name: 'empty key on PUT', method: 'PUT', path: '/kv/', body: 'x', status: 400, code: 'EMPTY_KEY' },
    { name: 'key one byte too long', method: 'GET', path: `/kv/${'k'.repeat(KEY_BYTES_MAX + 1)}`, status: 413, code: 'KEY_TOO_LARGE' },
    { name: 'percent-encoded key too long', method: 'DELETE', path: `/kv/${'%41'.repeat(KEY_BYTES_MAX + 1)}`, status: 413, code: 'KEY_TOO_LARGE' },
    { name: 'value one byte too long', method: 'PUT', path: `/kv/${mine}`, body: 'v'.repeat(VALUE_BYTES_MAX + 1), status: 413, code: 'VALUE_TOO_LARGE' },
    { name: 'chunked value too long', method: 'PUT', path: `/kv/${mine}`, headers: { 'Transfer-Encoding': 'chunked' }, body: 'v'.repeat(VALUE_BYTES_MAX * 4), status: 413, code: 'VALUE_TOO_LARGE' },
    { name: 'POST on a key', method: 'POST', path: `/kv/${mine}`, body: 'x', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'PATCH on a key', method: 'PATCH', path: `/kv/${mine}`, body: 'x', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'PUT on the scan route', method: 'PUT', path: '/kv', body: 'x', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'GET on /batch', method: 'GET', path: '/batch', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'DELETE on /cluster', method: 'DELETE', path: '/cluster', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'unknown route', method: 'GET', path: '/nope', status: 404, code: 'ROUTE_NOT_FOUND' },
    { name: 'unknown route under /kvx', method: 'GET', path: '/kvx/a', status: 404, code: 'ROUTE_NOT_FOUND' },
    { name: 'unknown query parameter', method: 'GET', path: `/kv/${mine}?foo=1`, status: 400, code: 'BAD_QUERY' },
    { name: 'repeated query parameter', method: 'GET', path: '/kv?limit=1&limit=2', status: 400, code: 'BAD_QUERY' },
    { name: 'non-numeric scan limit', method: 'GET', path: '/kv?limit=abc', status: 400, code: 'BAD_QUERY' },
    { name: 'zero scan limit', method: 'GET', path: '/kv?limit=0', status: 400, code: 'BAD_QUERY' },
    { name: 'both gt and gte', method: 'GET', path: '/kv?gt=a&gte=b', status: 400, code: 'BAD_QUERY' },
    { name: 'unknown read preference', method: 'GET', path: `/kv/${mine}?read=any`, status: 400, code: 'BAD_QUERY' },
    { name: 'bad sync flag', method: 'PUT', path: `/kv/${mine}?sync=maybe`, body: 'x', status: 400, code: 'BAD_QUERY' },
    { name: 'utf8 scan over a binary key', method: 'GET', path: '/kv', status: 406, code: 'NOT_UTF8' },
    { name: 'malformed batch JSON', method: 'POST', path: '/batch', body: '{"ops": [', headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch body not UTF-8', method: 'POST', path: '/batch', body: new Uint8Array([0x7b, 0xff, 0x7d]), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch that is a JSON array', method: 'POST', path: '/batch', body: '[]', headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch without ops', method: 'POST', path: '/batch', body: '{}', headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'empty batch', method: 'POST', path: '/batch', body: batch([]), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch op of unknown type', method: 'POST', path: '/batch', body: batch([{ type: 'inc', key: mine }]), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch put without value', method: 'POST', path: '/batch', body: batch([{ type: 'put', key: mine }]), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch op with misspelt field', method: 'POST', path: '/batch', body: batch([{ type: 'put', key: mine, valu: 'x' }]), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch with numeric key', method: 'POST', path: '/batch', body: batch([{ type: 'del', key: 7 }]), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch with bad base64', method: 'POST', path: '/batch', body: batch([{ type: 'del', key: '!!!' }], { encoding: 'base64' }), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch with unknown encoding', method: 'POST', path: '/batch', body: batch([{ type: 'del', key: mine }], { encoding: 'hex' }), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch with too many ops', method: 'POST', path: '/batch', body: batch(manyOps), headers: json, status: 400, code: 'BAD_BATCH' },
    { name: 'batch body too large', method: 'POST', path: '/batch', body: batch([{ type: 'put', key: mine, value: 'v'.repeat(BATCH_BYTES_MAX) }]), headers: json, status: 413, code: 'BODY_TOO_LARGE' },
    { name: 'batch with an empty key', method: 'POST', path: '/batch', body: batch([{ type: 'del', key: '' }]), headers: json, status: 400, code: 'EMPTY_KEY' },
    { name: 'batch with a key too long', method: 'POST', path: '/batch', body: batch([{ type: 'del', key: 'k'.repeat(KEY_BYTES_MAX + 1) }]), headers: json, status: 413, code: 'KEY_TOO_LARGE' },
    { name: 'batch with a value too long', method: 'POST', path: '/batch', body: batch([{ type: 'put', key: mine, value: 'v'.repeat(VALUE_BYTES_MAX + 1) }]), headers: json, status: 413, code: 'VALUE_TOO_LARGE' },
    {
      name: 'batch with a key of another shard', method: 'POST', path: '/batch', headers: json,
      body: batch([{ type: 'put', key: mine, value: 'changed' }, { type: 'put', key: theirs, value: 'changed' }]),
      status: 400, code: 'WRONG_SHARD', message: JSON.stringify(theirs),
    },
    { name: 'batch without a content type', method: 'POST', path: '/batch', body: batch([{ type: 'del', key: mine }]), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'application/json' },
    { name: 'batch sent as a form', method: 'POST', path: '/batch', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: batch([{ type: 'del', key: mine }]), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'batch nested deeper than a batch is', method: 'POST', path: '/batch', headers: json, body: batch([{ type: 'del', key: [[mine]] }]), status: 400, code: 'BAD_BATCH', message: 'deeper than 3' },
    { name: 'batch of far more empty objects than operations', method: 'POST', path: '/batch', headers: json, body: batch(Array.from({ length: 200 }, () => ({}))), status: 400, code: 'BAD_BATCH', message: `at most ${BATCH_OPS_MAX} operations` },
    ...binaryBatchRequests(mine, theirs),
    { name: 'internal JSON nested too deep', method: 'POST', path: '/internal/replication/ack', headers: { ...AUTH, ...json }, body: '['.repeat(20) + ']'.repeat(20), status: 413, code: 'BODY_TOO_COMPLEX', message: 'deeper than 8' },
    { name: 'internal JSON without a content type', method: 'POST', path: '/internal/replication/ack', headers: AUTH, body: '{}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'a Host that names another site', method: 'GET', path: `/kv/${mine}`, headers: { Host: 'rebound.example' }, status: 421, code: 'FOREIGN_HOST', message: '"rebound.example"' },
    { name: 'an Origin of another site', method: 'PUT', path: `/kv/${mine}`, headers: { Origin: 'https://evil.example' }, body: 'changed', status: 403, code: 'FOREIGN_ORIGIN', message: '"https://evil.example"' },
    { name: 'internal route without token', method: 'GET', path: '/internal/state', status: 401, code: 'UNAUTHORIZED' },
    { name: 'internal route with wrong token', method: 'GET', path: '/internal/state', headers: { Authorization: 'Bearer wrong-token-0123456789' }, status: 401, code: 'UNAUTHORIZED' },
    { name: 'unknown internal route without token', method: 'GET', path: '/internal/nope', status: 401, code: 'UNAUTHORIZED' },
    { name: 'unknown internal route with token', method: 'GET', path: '/internal/nope', headers: AUTH, status: 404, code: 'ROUTE_NOT_FOUND' },
    { name: 'admin route without token', method: 'POST', path: '/admin/anything', status: 401, code: 'UNAUTHORIZED' },
  ];
}

/** Binary batches (docs/formats/batch.md) that are cut short, lie about counts or lengths, or break a limit. */
function binaryBatchRequests(mine: string, theirs: string): BadRequest[] {
  const binary = { 'Content-Type': 'application/octet-stream' };
  const put = (key: string, value: string) => ({ type: 'put' as const, key: utf8(key), value: utf8(value) });
  const good = encodeBinaryBatch([put(mine, 'changed'), { type: 'del', key: utf8(mine) }]);
  const withCount = (count: number) => Uint8Array.from(good, (b, i) => (i === 7 ? count : b));
  const request = (name: string, body: Uint8Array, status: number, code: string, message: string): BadRequest => ({ name, method: 'POST', path: '/batch', headers: binary, body, status, code, message });
  return [
    request('binary batch cut short', good.subarray(0, good.length - 1), 400, 'BAD_BATCH', 'cut short in operation 1'),
    request('binary batch counting more ops than it holds', withCount(3), 400, 'BAD_BATCH', 'cut short in operation 2'),
    request('binary batch counting fewer ops than it holds', withCount(1), 400, 'BAD_BATCH', 'after its last operation'),
    request('binary batch counting no ops', withCount(0), 400, 'BAD_BATCH', '0 operations'),
    request('binary batch over batch_ops_max', encodeBinaryBatch(Array.from({ length: BATCH_OPS_MAX + 1 }, (_, i) => put(`${mine}-${i}`, 'x'))), 400, 'BAD_BATCH', `at most ${BATCH_OPS_MAX}`),
    request('binary batch that is JSON', utf8(JSON.stringify({ ops: [{ type: 'del', key: mine }] })), 400, 'BAD_BATCH', '"DKB1"'),
    request('binary batch with an unknown op type', Uint8Array.from(good, (b, i) => (i === 8 ? 9 : b)), 400, 'BAD_BATCH', 'type 0x09'),
    request('binary batch with a value too long', encodeBinaryBatch([put(mine, 'v'.repeat(VALUE_BYTES_MAX + 1))]), 413, 'VALUE_TOO_LARGE', `at most ${VALUE_BYTES_MAX} bytes`),
    request('binary batch with a key too long', encodeBinaryBatch([{ type: 'del', key: new Uint8Array(KEY_BYTES_MAX) }]).map((b, i) => (i === 9 ? 0x20 : i === 10 ? 0x01 : b)), 413, 'KEY_TOO_LARGE', `${KEY_BYTES_MAX + 1} bytes`),
    request('binary batch with a key of another shard', encodeBinaryBatch([put(mine, 'changed'), put(theirs, 'changed')]), 400, 'WRONG_SHARD', JSON.stringify(theirs)),
    request('binary multi-get whose answer passes batch_bytes_max', encodeBinaryGetBatch(Array.from({ length: BATCH_OPS_MAX }, () => utf8(mine))), 400, 'ANSWER_TOO_LARGE', `limit of ${BATCH_BYTES_MAX} bytes`),
    { ...request('JSON multi-get whose answer passes batch_bytes_max', utf8(JSON.stringify({ ops: Array.from({ length: BATCH_OPS_MAX }, () => ({ type: 'get', key: mine })) })), 400, 'ANSWER_TOO_LARGE', 'ask for fewer keys'), headers: { 'Content-Type': 'application/json' } },
    // The second get (at 8 + 3 + the first key's length) made a del.
    request('binary batch mixing gets and writes', encodeBinaryGetBatch([utf8(mine), utf8(mine)]).map((b, i) => (i === 11 + mine.length ? 0x02 : b)), 400, 'BAD_BATCH', 'a "del" in a batch of gets'),
  ];
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Every leader's whole data (base64 scan) and last sequence number. */
async function snapshot(cluster: TestCluster): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const shard of cluster.shards) {
    const scan = await rawRequest(shard.leader, 'GET', '/kv?encoding=base64&limit=10000');
    const state = await rawRequest(shard.leader, 'GET', '/internal/state', { headers: AUTH });
    assert.equal(scan.status, 200);
    assert.equal(state.status, 200);
    out[shard.name] = { entries: scan.json().entries, lastSequence: state.json().lastSequence };
  }
  return out;
}

function keyOn(topology: Topology, shard: string, prefix: string): string {
  for (let i = 0; ; i++) if (topology.shardOf(new TextEncoder().encode(`${prefix}-${i}`)).name === shard) return `${prefix}-${i}`;
}

function binaryKeyOn(topology: Topology, shard: string): string {
  for (let i = 0; ; i++) {
    const key = new Uint8Array([0xff, 0xfe, i & 0xff, i >> 8]);
    if (topology.shardOf(key).name === shard) return percentEncode(key);
  }
}
