/**
 * Parsing requests (method + raw URL → Route), percent-encoding of byte keys, the batch and
 * scan wire codecs, and the token check. Pure; no sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ClusterError, DEFAULT_LIMITS, decodeBatch, decodeScanPage, encodeBatch, encodeGetBatch, encodeScanPage, KEY_BYTES_MAX,
  parseRoute, percentDecode, percentEncode,
} from '../../cluster/index.ts';
import { bearerMatches } from '../../cluster/auth.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const route = (method: string, url: string) => parseRoute(method, url, DEFAULT_LIMITS);
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ClusterError, String(error));
    return error.code;
  }
  return 'no error';
};
const message = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return 'no error';
};

describe('parseRoute', () => {
  it('decodes keys to bytes, including bytes that are not UTF-8', () => {
    assert.deepEqual(route('GET', '/kv/a%2Fb+c'), { kind: 'get', key: bytes('a/b+c'), readReplica: false, minSeq: undefined });
    assert.deepEqual(route('PUT', '/kv/%FF%00x?sync=true'), { kind: 'put', key: new Uint8Array([0xff, 0, 0x78]), sync: true, acks: undefined });
    assert.deepEqual(route('DELETE', '/kv/k/with/slashes'), { kind: 'delete', key: bytes('k/with/slashes'), sync: false, acks: undefined });
    assert.deepEqual(route('GET', '/kv/k?read=replica'), { kind: 'get', key: bytes('k'), readReplica: true, minSeq: undefined });
  });

  it('reads acks on writes and min_seq on reads', () => {
    assert.deepEqual(route('PUT', '/kv/k?acks=all&sync=true'), { kind: 'put', key: bytes('k'), sync: true, acks: 'all' });
    assert.deepEqual(route('DELETE', '/kv/k?acks=0'), { kind: 'delete', key: bytes('k'), sync: false, acks: 0 });
    assert.deepEqual(route('POST', '/batch?acks=1'), { kind: 'batch', sync: false, acks: 1, readReplica: false, minSeq: undefined, readQuery: false, writeQuery: true });
    assert.deepEqual(route('GET', '/kv/k?read=replica&min_seq=42'), { kind: 'get', key: bytes('k'), readReplica: true, minSeq: 42 });
    const scan = route('GET', '/kv?read=replica&min_seq=7');
    assert.equal(scan.kind === 'scan' && scan.minSeq, 7);
    for (const url of ['/kv/k?acks=2', '/kv/k?acks=ALL', '/kv/k?acks=']) assert.equal(code(() => route('PUT', url)), 'BAD_QUERY', url);
    for (const url of ['/kv/k?min_seq=-1', '/kv/k?min_seq=1.5', '/kv/k?min_seq=99999999999999999', '/kv/k?min_seq=']) assert.equal(code(() => route('GET', url)), 'BAD_QUERY', url);
  });

  it('knows the replication routes and checks their parameters', () => {
    assert.deepEqual(route('GET', '/internal/replication/stream?node=127.0.0.1%3A7101&from=5&term=2&data_term=1'), {
      kind: 'replication-stream', node: '127.0.0.1:7101', from: 5, term: 2, dataTerm: 1,
    });
    assert.equal(code(() => route('GET', '/internal/replication/stream?node=nowhere&from=1&term=1&data_term=0')), 'BAD_QUERY');
    assert.equal(code(() => route('GET', '/internal/replication/stream?node=a%3A1&from=1&term=1')), 'BAD_QUERY');
    assert.deepEqual(route('POST', '/internal/replication/ack'), { kind: 'replication-ack' });
    assert.equal(code(() => route('GET', '/internal/topology')), 'ROUTE_NOT_FOUND', 'topologies are no longer pushed between nodes');
    assert.deepEqual(route('POST', '/internal/anti-entropy/digest'), { kind: 'anti-entropy-digest' });
    assert.deepEqual(route('POST', '/internal/anti-entropy/hashes'), { kind: 'anti-entropy-hashes' });
    assert.deepEqual(route('POST', '/admin/promote'), { kind: 'promote', unclean: false });
    assert.deepEqual(route('POST', '/admin/promote?unclean=true'), { kind: 'promote', unclean: true });
    assert.equal(code(() => route('POST', '/admin/promote?force=true')), 'BAD_QUERY');
    assert.deepEqual(route('POST', '/admin/transfer?to=127.0.0.1%3A7101'), { kind: 'transfer', to: '127.0.0.1:7101' });
    assert.deepEqual(route('POST', '/admin/transfer'), { kind: 'transfer', to: undefined });
    assert.equal(code(() => route('POST', '/admin/transfer?to=nowhere')), 'BAD_QUERY');
    assert.deepEqual(route('POST', '/internal/raft'), { kind: 'raft-messages' });
    assert.deepEqual(route('GET', '/internal/meta?after=7&wait_ms=999999'), { kind: 'meta-watch', after: 7, waitMs: 30_000 }, 'the wait is capped');
    assert.deepEqual(route('POST', '/internal/control/propose'), { kind: 'control-propose' });
    assert.deepEqual(route('POST', '/internal/control/lease'), { kind: 'control-lease' });
    assert.deepEqual(route('POST', '/admin/anti-entropy'), { kind: 'anti-entropy-run' });
    assert.equal(code(() => route('GET', '/admin/promote')), 'METHOD_NOT_ALLOWED');
  });

  it('reads scan bounds, caps the limit at scanEntriesMax, and defaults to utf8', () => {
    assert.deepEqual(route('GET', '/kv?gte=a&lt=b%00&limit=5&encoding=base64'), {
      kind: 'scan', range: { gte: bytes('a'), lt: new Uint8Array([0x62, 0]) }, limit: 5, encoding: 'base64', readReplica: false, minSeq: undefined,
    });
    const capped = route('GET', `/kv?limit=${DEFAULT_LIMITS.scanEntriesMax + 1}`);
    assert.equal(capped.kind === 'scan' && capped.limit, DEFAULT_LIMITS.scanEntriesMax);
    const empty = route('GET', '/kv?gte=');
    assert.deepEqual(empty.kind === 'scan' && empty.range, { gte: new Uint8Array(0) });
  });

  it('knows the fixed routes', () => {
    assert.deepEqual(route('GET', '/cluster'), { kind: 'cluster' });
    assert.deepEqual(route('GET', '/healthz'), { kind: 'healthz' });
    assert.deepEqual(route('GET', '/internal/state'), { kind: 'internal-state' });
    assert.deepEqual(route('POST', '/batch?sync=true'), { kind: 'batch', sync: true, acks: undefined, readReplica: false, minSeq: undefined, readQuery: false, writeQuery: true });
  });

  const bad: [string, string, string][] = [
    ['GET', '/kv/%', 'BAD_PERCENT_ENCODING'],
    ['GET', '/kv/%4', 'BAD_PERCENT_ENCODING'],
    ['GET', '/kv/%4g', 'BAD_PERCENT_ENCODING'],
    ['GET', '/kv/a b', 'BAD_PERCENT_ENCODING'],
    ['GET', '/kv/caf\u00e9', 'BAD_PERCENT_ENCODING'],
    ['GET', '/kv/', 'EMPTY_KEY'],
    ['GET', `/kv/${'x'.repeat(KEY_BYTES_MAX)}`, 'no error'],
    ['GET', `/kv/${'x'.repeat(KEY_BYTES_MAX + 1)}`, 'KEY_TOO_LARGE'],
    ['GET', `/kv/${'%78'.repeat(KEY_BYTES_MAX + 1)}`, 'KEY_TOO_LARGE'],
    ['GET', `/kv/${'x'.repeat(10 * KEY_BYTES_MAX)}`, 'KEY_TOO_LARGE'],
    ['POST', '/kv/a', 'METHOD_NOT_ALLOWED'],
    ['HEAD', '/healthz', 'METHOD_NOT_ALLOWED'],
    ['GET', '/index.html', 'ROUTE_NOT_FOUND'] /* '/' is the dashboard */,
    ['GET', '/kvv', 'ROUTE_NOT_FOUND'],
    ['GET', '/internal/other', 'ROUTE_NOT_FOUND'],
    ['GET', '/kv/a?x=1', 'BAD_QUERY'],
    ['GET', '/cluster?verbose', 'BAD_QUERY'],
    ['GET', '/kv?limit=-1', 'BAD_QUERY'],
    ['GET', '/kv?limit=1e3', 'BAD_QUERY'],
    ['GET', '/kv?lt=a&lte=b', 'BAD_QUERY'],
    ['GET', '/kv?encoding=hex', 'BAD_QUERY'],
    ['PUT', '/kv/a?sync=yes', 'BAD_QUERY'],
  ];
  for (const [method, url, expected] of bad) {
    it(`answers ${method} ${url.length > 40 ? `${url.slice(0, 40)}…` : url} with ${expected}`, () => {
      assert.equal(code(() => route(method, url)), expected);
    });
  }

  it('says which methods a route allows', () => {
    assert.throws(() => route('PATCH', '/kv/a'), (error: { allow?: string[] }) => error.allow?.join() === 'GET,PUT,DELETE');
  });
});

describe('percent-encoding', () => {
  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.deepEqual(percentDecode(percentEncode(all), 'key'), all);
    assert.equal(percentEncode(bytes('a-b_c.d~e/f g')), 'a-b_c.d~e%2Ff%20g');
  });
});

describe('batch codec', () => {
  it('decodes utf8 and base64 batches and round-trips what the client encodes', () => {
    const ops = decodeBatch(bytes('{"ops":[{"type":"put","key":"k","value":""},{"type":"del","key":"d"}]}'), DEFAULT_LIMITS);
    assert.deepEqual(ops, { kind: 'write', ops: [{ type: 'put', key: bytes('k'), value: new Uint8Array(0) }, { type: 'del', key: bytes('d') }] });
    const binary = [{ type: 'put' as const, key: new Uint8Array([0xff, 1]), value: new Uint8Array([0, 0xfe]) }];
    assert.deepEqual(decodeBatch(encodeBatch(binary), DEFAULT_LIMITS), { kind: 'write', ops: binary });
  });

  it('decodes a batch of gets as a multi-get, keys in request order with duplicates kept', () => {
    const keys = [new Uint8Array([0xff]), bytes('a'), new Uint8Array([0xff])];
    assert.deepEqual(decodeBatch(encodeGetBatch(keys), DEFAULT_LIMITS), { kind: 'read', keys, answer: 'base64' });
    assert.deepEqual(decodeBatch(bytes('{"ops":[{"type":"get","key":"k"}]}'), DEFAULT_LIMITS), { kind: 'read', keys: [bytes('k')], answer: 'utf8' });
  });

  it('refuses a batch that mixes gets with writes, or a get with a value, naming the op', () => {
    assert.match(message(() => decodeBatch(bytes('{"ops":[{"type":"get","key":"a"},{"type":"put","key":"b","value":"v"}]}'), DEFAULT_LIMITS)), /ops\[1\] is a "put" in a batch of gets/);
    assert.match(message(() => decodeBatch(bytes('{"ops":[{"type":"del","key":"a"},{"type":"get","key":"b"}]}'), DEFAULT_LIMITS)), /ops\[1\] is a "get" in a batch of writes/);
    assert.equal(code(() => decodeBatch(bytes('{"ops":[{"type":"get","key":"a","value":"v"}]}'), DEFAULT_LIMITS)), 'BAD_BATCH');
  });

  it('refuses a utf8 key or value holding a lone surrogate instead of storing U+FFFD for it', () => {
    for (const text of ['\\ud800', 'a\\udfffb', '\\udc00\\ud800']) {
      const asKey = `{"ops":[{"type":"put","key":"${text}","value":"v"}]}`;
      const asValue = `{"ops":[{"type":"put","key":"k","value":"${text}"}]}`;
      const asGet = `{"ops":[{"type":"get","key":"${text}"}]}`;
      assert.match(message(() => decodeBatch(bytes(asKey), DEFAULT_LIMITS)), /ops\[0\]\.key holds a lone surrogate.*base64/, asKey);
      assert.match(message(() => decodeBatch(bytes(asValue), DEFAULT_LIMITS)), /ops\[0\]\.value holds a lone surrogate/, asValue);
      assert.equal(code(() => decodeBatch(bytes(asGet), DEFAULT_LIMITS)), 'BAD_BATCH', asGet);
    }
    const pair = decodeBatch(bytes('{"ops":[{"type":"put","key":"\\ud83d\\ude00","value":"\\u00e9"}]}'), DEFAULT_LIMITS);
    assert.deepEqual(pair, { kind: 'write', ops: [{ type: 'put', key: bytes('\u{1F600}'), value: bytes('\u00e9') }] });
  });

  it('refuses a malformed batch with BAD_BATCH', () => {
    for (const body of ['', 'null', '{"ops":{}}', '{"ops":[null]}', '{"ops":[{"type":"del","key":"a","value":"v"}]}', '{"ops":[],"x":1}']) {
      assert.equal(code(() => decodeBatch(bytes(body), DEFAULT_LIMITS)), 'BAD_BATCH', body);
    }
  });
});

describe('scan codec', () => {
  it('refuses to mangle bytes that are not UTF-8 and carries them in base64', () => {
    const page = { entries: [[new Uint8Array([0xff]), bytes('v')]] as [Uint8Array, Uint8Array][], more: true };
    assert.equal(code(() => encodeScanPage(page, 'utf8')), 'NOT_UTF8');
    assert.deepEqual(decodeScanPage(encodeScanPage(page, 'base64')), page);
  });
});

describe('bearerMatches', () => {
  const token = 'a-token-of-sixteen-bytes';
  it('accepts exactly "Bearer <token>"', () => {
    assert.equal(bearerMatches(`Bearer ${token}`, token), true);
    for (const header of [undefined, '', token, `bearer ${token}`, `Bearer ${token} `, `Bearer ${token}x`, `Bearer  ${token}`, 'Bearer ']) {
      assert.equal(bearerMatches(header, token), false, JSON.stringify(header));
    }
  });
});

describe('no input crashes the parsers', () => {
  const onlyClusterErrors = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof ClusterError)) throw error;
    }
  };

  it('parses any method and URL into a route or a ClusterError', () => {
    const method = fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'PATCH', 'HEAD', '', 'get');
    const url = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.tuple(fc.constantFrom('/kv/', '/kv?', '/batch?', '/internal/', '/cluster?', ''), fc.string({ unit: 'binary-ascii' })).map(([a, b]) => a + b),
    );
    fc.assert(fc.property(method, url, (m, u) => onlyClusterErrors(() => route(m, u))), { numRuns: 2000 });
  });

  it('decodes any bytes as a batch or refuses them with a ClusterError', () => {
    const body = fc.oneof(fc.uint8Array(), fc.json().map((j) => bytes(j)), fc.jsonValue().map((v) => bytes(JSON.stringify({ ops: [v] }))));
    fc.assert(fc.property(body, (b) => onlyClusterErrors(() => decodeBatch(b, DEFAULT_LIMITS))), { numRuns: 2000 });
  });
});
