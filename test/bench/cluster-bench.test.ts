/**
 * The cluster benchmark's own pieces that can be wrong without any load: the requests its
 * batch workloads send (the node's codec must accept them), how it reads redis-benchmark's
 * output and sizes its runs, how it finds Redis, its new flags, and the one-line refusals
 * of `--redis` and `--hosts` where they cannot run. Nothing here measures speed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeBatch, decodeBinaryBatch, DEFAULT_LIMITS, encodeBinaryBatch, encodeBinaryGetBatch } from '../../cluster/index.ts';
import { BATCH_SIZES_DEFAULT, parseBenchArgs, USAGE } from '../../bench/cluster/options.ts';
import { parseRedisCsv, requestsFor } from '../../bench/cluster/redis-load.ts';
import { encodeCommand, findRedis, redisKey } from '../../bench/cluster/redis-server.ts';
import { medianRound, ratioText } from '../../bench/cluster/report.ts';
import { batchPutRequest, batchWorkload, binaryBatchPutRequest, binaryMultiGetRequest, multiGetRequest, SINGLE_NODE, writePath } from '../../bench/cluster/workloads.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

test('a batch of puts the benchmark sends is one the node decodes, key for key and value for value', () => {
  const value = 'b'.repeat(100);
  const request = batchPutRequest(batchWorkload('put', 3), ['k0000000001', 'k0000000002', 'k0000000001'], JSON.stringify(value));
  assert.equal(request.method, 'POST');
  assert.equal(request.path, '/batch?acks=1');
  const batch = decodeBatch(new TextEncoder().encode(request.body), DEFAULT_LIMITS);
  assert.equal(batch.kind, 'write');
  const ops = batch.kind === 'write' ? batch.ops : [];
  assert.deepEqual(ops.map((op) => [op.type, text(op.key), op.type === 'put' ? text(op.value) : undefined]), [
    ['put', 'k0000000001', value], ['put', 'k0000000002', value], ['put', 'k0000000001', value],
  ]);
});

test('a durable write asks the node for sync=true, single or batched', () => {
  assert.equal(writePath(SINGLE_NODE['put-sync'], 'k1'), '/kv/k1?acks=1&sync=true');
  assert.equal(writePath(SINGLE_NODE.put, 'k1'), '/kv/k1?acks=1');
  assert.equal(batchPutRequest(SINGLE_NODE['put-sync'], ['k1'], '"v"').path, '/batch?acks=1&sync=true');
});

test('a multi-get names every key once per request, as gets', () => {
  const request = multiGetRequest(['k1', 'k2']);
  assert.deepEqual(JSON.parse(request.body), { ops: [{ type: 'get', key: 'k1' }, { type: 'get', key: 'k2' }] });
  assert.deepEqual(decodeBatch(new TextEncoder().encode(request.body), DEFAULT_LIMITS), { kind: 'read', keys: [new TextEncoder().encode('k1'), new TextEncoder().encode('k2')], answer: 'utf8' });
  assert.equal(batchWorkload('get', 16).readShare, 1);
  assert.deepEqual(batchWorkload('get', 16).batch, { kind: 'get', ops: 16, format: 'binary' });
  assert.deepEqual(batchWorkload('get', 16, 'json').batch, { kind: 'get', ops: 16, format: 'json' });
});

test('the binary batches the benchmark sends are ones the node decodes, key for key and value for value', () => {
  const value = Buffer.alloc(100, 0x62);
  const puts = binaryBatchPutRequest(batchWorkload('put', 2), ['k0000000001', 'k0000000002'], value);
  assert.equal(puts.path, '/batch?acks=1');
  assert.equal(puts.contentType, 'application/octet-stream');
  const batch = decodeBinaryBatch(puts.body, DEFAULT_LIMITS);
  assert.deepEqual(batch.kind === 'write' ? batch.ops.map((op) => [op.type, text(op.key), op.type === 'put' ? text(op.value) : undefined]) : batch, [
    ['put', 'k0000000001', value.toString()], ['put', 'k0000000002', value.toString()],
  ]);
  const gets = decodeBinaryBatch(binaryMultiGetRequest(['k1', 'k2']).body, DEFAULT_LIMITS);
  assert.deepEqual(gets.kind === 'read' ? gets.keys.map(text) : gets, ['k1', 'k2']);
  // Byte for byte what the client's encoder writes.
  const bytes = (key: string) => new TextEncoder().encode(key);
  assert.deepEqual(new Uint8Array(puts.body), encodeBinaryBatch(['k0000000001', 'k0000000002'].map((key) => ({ type: 'put', key: bytes(key), value: new Uint8Array(value) }))));
  assert.deepEqual(new Uint8Array(binaryMultiGetRequest(['k1', 'k2']).body), encodeBinaryGetBatch([bytes('k1'), bytes('k2')]));
});

test('--batch-format picks binary (the default) or JSON, and nothing else', () => {
  assert.equal(parseBenchArgs([]).batchFormat, 'binary');
  assert.equal(parseBenchArgs(['--batch-format', 'json']).batchFormat, 'json');
  assert.throws(() => parseBenchArgs(['--batch-format', 'msgpack']), /--batch-format takes binary or json, got "msgpack"/);
});

test("redis-benchmark's CSV gives commands per second and p50, p99 and max in milliseconds", () => {
  const output = [
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
    '"SET","20408.16","1.528","0.320","0.911","5.031","9.631","23.631"',
    '"GET","25252.53","1.190","0.136","0.783","4.575","6.055","9.279"',
    '',
  ].join('\n');
  assert.deepEqual(parseRedisCsv(output), [
    { test: 'SET', rps: 20408.16, p50Ms: 0.911, p99Ms: 9.631, maxMs: 23.631 },
    { test: 'GET', rps: 25252.53, p50Ms: 0.783, p99Ms: 6.055, maxMs: 9.279 },
  ]);
  assert.throws(() => parseRedisCsv('"SET","fast","1","1","1","1","1","1"'), /not a number/);
});

test('a redis-benchmark run is sized from the last rate, within a floor and the per-second bound', () => {
  assert.equal(requestsFor(10, 50_000), 500_000);
  assert.equal(requestsFor(0.1, 100), 2_000);
  assert.equal(requestsFor(1, 10_000_000), 500_000);
});

test('a ratio over rounds is shown with the range of the rounds, a single round without one', () => {
  assert.equal(ratioText(0.4213, [0.4213]), '0.42x');
  assert.equal(ratioText(0.42, [0.47, 0.42, 0.39]), '0.42x (0.39-0.47 over 3 rounds)');
});

test('the round with the median ratio stands for the rounds, the lower of two middles when they are even', () => {
  assert.deepEqual(medianRound([{ id: 'a', ratio: 0.5 }, { id: 'b', ratio: 0.2 }, { id: 'c', ratio: 0.3 }]), { id: 'c', ratio: 0.3, ratios: [0.5, 0.2, 0.3] });
  assert.equal(medianRound([{ id: 'a', ratio: 0.5 }, { id: 'b', ratio: 0.2 }]).id, 'b');
  assert.throws(() => medianRound([]), /at least one round/);
});

test('keys and commands are written the way redis-benchmark and RESP write them', () => {
  assert.equal(redisKey(42), 'key:000000000042');
  assert.equal(encodeCommand(['SET', 'k', 'vé']), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nvé\r\n');
});

test('Redis is found only when both redis-server and redis-benchmark are executable on PATH', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'distribkv-find-redis-'));
  try {
    const make = (name: string) => {
      writeFileSync(path.join(dir, name), '#!/bin/sh\n');
      chmodSync(path.join(dir, name), 0o755);
    };
    make('redis-server');
    assert.equal(findRedis(dir), undefined);
    make('redis-benchmark');
    assert.deepEqual(findRedis(`/nonexistent${path.delimiter}${dir}`), { server: path.join(dir, 'redis-server'), benchmark: path.join(dir, 'redis-benchmark') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Redis and hosts flags parse, default to Redis when present and no hosts, and refuse contradictions', () => {
  const defaults = parseBenchArgs([]);
  assert.equal(defaults.redis, 'auto');
  assert.equal(defaults.hosts, false);
  assert.deepEqual(defaults.batchSizes, BATCH_SIZES_DEFAULT);
  assert.equal(parseBenchArgs(['--no-redis']).redis, 'off');
  assert.equal(parseBenchArgs(['--redis']).redis, 'on');
  assert.equal(parseBenchArgs(['--redis-only']).redis, 'on');
  assert.equal(parseBenchArgs(['--hosts']).hosts, true);
  assert.deepEqual(parseBenchArgs(['--batch-sizes', '64,16,16']).batchSizes, [16, 64]);
  assert.equal(defaults.rounds, 1);
  assert.equal(parseBenchArgs(['--rounds', '3']).rounds, 3);
  assert.throws(() => parseBenchArgs(['--rounds', '0']), /--rounds must be a number from 1/);
  assert.throws(() => parseBenchArgs(['--redis', '--no-redis']), /contradict/);
  assert.throws(() => parseBenchArgs(['--redis-only', '--hosts']), /contradict|measure nothing/);
  assert.throws(() => parseBenchArgs(['--batch-sizes', '0']), /--batch-sizes must be a number from 1/);
  assert.throws(() => parseBenchArgs(['--help']), (error: Error) => error.message === USAGE);
  for (const flag of ['--redis', '--no-redis', '--redis-only', '--batch-sizes', '--batch-format', '--rounds', '--hosts']) assert.ok(USAGE.includes(flag), `--help names ${flag}`);
});

/** Runs the benchmark's entry point and returns its exit status and stderr. */
function runBench(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bench/cluster/main.ts', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stderr: result.stderr };
}

test('--redis without Redis on PATH says in one line how to get it and exits 2', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'distribkv-no-redis-'));
  try {
    const { status, stderr } = runBench(['--redis'], { ...process.env, PATH: empty });
    assert.equal(status, 2);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /apt-get install redis-server/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('--hosts with more nodes than the harness has hosts says why in one line and exits 2', () => {
  const { status, stderr } = runBench(['--hosts', '--shards', '16', '--replicas', '1'], process.env);
  assert.equal(status, 2);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.match(stderr, /--hosts cannot run here: .*at most 16 hosts/);
});
