/**
 * The workloads of the cluster benchmark, as data: the share of reads, how keys are drawn,
 * the acks of writes, and where reads go. Drivers (raw-load.ts, client-load.ts) turn an `Op`
 * into a request their own way. The five of `WORKLOADS` run on the cluster; the Redis
 * comparison (versus-redis.ts) runs `SINGLE_NODE` and `batchWorkload` on a one-node cluster.
 */
import { BINARY_BATCH_MEDIA_TYPE, type Topology } from '../../cluster/index.ts';
import type { BatchFormat, WorkloadName } from './options.ts';

export interface Workload {
  name: string;
  /** What the table and chart call it. */
  title: string;
  /** Probability that an operation is a read; the rest are writes. */
  readShare: number;
  zipfian: boolean;
  acks: 1 | 'all';
  /** Reads go to replicas (`read=replica`) instead of leaders. */
  replicaReads: boolean;
  /** Writes ask for an fsync of the leader's WAL before the answer (`sync=true`). */
  sync?: boolean;
  /**
   * Each request carries this many operations of one kind: a POST /batch of puts, or a
   * multi-get (raw HTTP only); in binary (docs/formats/batch.md, as the client library sends
   * them) or in JSON.
   */
  batch?: { kind: 'put' | 'get'; ops: number; format: BatchFormat };
}

export const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = Object.freeze({
  get: { name: 'get', title: 'GET 100%', readShare: 1, zipfian: false, acks: 1, replicaReads: false },
  'put-acks-1': { name: 'put-acks-1', title: 'PUT 100%, acks=1', readShare: 0, zipfian: false, acks: 1, replicaReads: false },
  'put-acks-all': { name: 'put-acks-all', title: 'PUT 100%, acks=all', readShare: 0, zipfian: false, acks: 'all', replicaReads: false },
  'mix-zipf': { name: 'mix-zipf', title: 'GET 90% / PUT 10%, zipfian', readShare: 0.9, zipfian: true, acks: 1, replicaReads: false },
  'replica-get': { name: 'replica-get', title: 'GET 100% from replicas', readShare: 1, zipfian: false, acks: 1, replicaReads: true },
});

/** The single-key workloads of the Redis comparison, on one node without replicas. */
export const SINGLE_NODE = Object.freeze({
  get: WORKLOADS.get,
  put: WORKLOADS['put-acks-1'],
  'put-sync': { name: 'put-sync', title: 'PUT 100%, sync=true', readShare: 0, zipfian: false, acks: 1, replicaReads: false, sync: true } satisfies Workload,
});

/** Requests of `ops` operations each: puts through POST /batch, or gets through a multi-get. */
export function batchWorkload(kind: 'put' | 'get', ops: number, format: BatchFormat = 'binary'): Workload {
  const title = `${kind === 'put' ? `POST /batch, ${ops} puts` : `multi-get, ${ops} keys`}${format === 'json' ? ', JSON' : ''}`;
  const batch = { kind, ops, format };
  return { name: `batch-${kind}-${ops}${format === 'json' ? '-json' : ''}`, title, readShare: kind === 'get' ? 1 : 0, zipfian: false, acks: 1, replicaReads: false, batch };
}

/** Whether the workload can run on a cluster with `replicas` replicas per shard. */
export function runnable(workload: Workload, replicas: number): boolean {
  return replicas > 0 || (workload.acks !== 'all' && !workload.replicaReads);
}

/** One HTTP request of a workload: method, path and query (keys need no percent-encoding). */
export interface Op {
  method: 'GET' | 'PUT';
  path: string;
}

export function readPath(workload: Workload, key: string): string {
  return workload.replicaReads ? `/kv/${key}?read=replica` : `/kv/${key}`;
}

export function writePath(workload: Workload, key: string): string {
  return `/kv/${key}?acks=${workload.acks}${workload.sync ? '&sync=true' : ''}`;
}

/** One request of a batch workload: `keys.length` operations. */
export interface BatchRequest {
  method: 'POST';
  path: string;
  body: string;
}

/** One request of a batch workload in binary, with the Content-Type that says so. */
export interface BinaryBatchRequest {
  method: 'POST';
  path: string;
  body: Buffer;
  contentType: typeof BINARY_BATCH_MEDIA_TYPE;
}

function batchPath(workload: Workload): string {
  return `/batch?acks=${workload.acks}${workload.sync ? '&sync=true' : ''}`;
}

/**
 * A POST /batch of puts in binary (docs/formats/batch.md): every key with `value`. Written
 * straight into one buffer, without the client's encoder and its objects a key: the load
 * generator shares the cores with the node, so what it spends a request is taken from the node.
 * The test checks these bytes against protocol/batch-binary.ts.
 */
export function binaryBatchPutRequest(workload: Workload, keys: readonly string[], value: Uint8Array): BinaryBatchRequest {
  let size = BINARY_HEADER.length;
  for (const key of keys) size += 3 + key.length + 4 + value.length;
  const body = binaryHeader(size, keys.length);
  let at = BINARY_HEADER.length;
  for (const key of keys) {
    at = writeKey(body, at, BINARY_PUT, key);
    at = body.writeUInt32BE(value.length, at);
    body.set(value, at);
    at += value.length;
  }
  return { method: 'POST', path: batchPath(workload), body, contentType: BINARY_BATCH_MEDIA_TYPE };
}

/** A multi-get of `keys` in binary, answered in binary; written as `binaryBatchPutRequest` is. */
export function binaryMultiGetRequest(keys: readonly string[]): BinaryBatchRequest {
  let size = BINARY_HEADER.length;
  for (const key of keys) size += 3 + key.length;
  const body = binaryHeader(size, keys.length);
  let at = BINARY_HEADER.length;
  for (const key of keys) at = writeKey(body, at, BINARY_GET, key);
  return { method: 'POST', path: '/batch', body, contentType: BINARY_BATCH_MEDIA_TYPE };
}

/** "DKB1" and a count, and the op types (docs/formats/batch.md). */
const BINARY_HEADER = Buffer.from('DKB1\0\0\0\0', 'latin1');
const BINARY_PUT = 0x01;
const BINARY_GET = 0x03;

function binaryHeader(size: number, count: number): Buffer {
  const body = Buffer.allocUnsafe(size);
  BINARY_HEADER.copy(body, 0);
  body.writeUInt32BE(count, 4);
  return body;
}

/** Writes an op type and an ASCII key (every key of the benchmark is) at `at`; returns where the next field starts. */
function writeKey(body: Buffer, at: number, type: number, key: string): number {
  body[at] = type;
  body.writeUInt16BE(key.length, at + 1);
  return at + 3 + body.write(key, at + 3, 'latin1');
}

/**
 * A POST /batch of puts (protocol/batch-codec.ts, UTF-8 encoding: keys are ASCII). `valueJson`
 * is the value already written as a JSON string, quotes included, so each request only joins.
 */
export function batchPutRequest(workload: Workload, keys: readonly string[], valueJson: string): BatchRequest {
  const ops = keys.map((key) => `{"type":"put","key":"${key}","value":${valueJson}}`);
  return { method: 'POST', path: batchPath(workload), body: `{"ops":[${ops.join(',')}]}` };
}

/**
 * A multi-get of `keys`: a POST /batch whose operations are all gets, answered 200 with the
 * values (docs/api.md, protocol/multi-get-codec.ts). `probeMultiGet` (versus-redis.ts) sends one
 * before measuring and skips the read pair, saying why, if a node refuses it.
 */
export function multiGetRequest(keys: readonly string[]): BatchRequest {
  return { method: 'POST', path: '/batch', body: `{"ops":[${keys.map((key) => `{"type":"get","key":"${key}"}`).join(',')}]}` };
}

/** For raw HTTP: each node the workload sends to, with the shard whose keys it serves. */
export function rawTargets(workload: Workload, topology: Topology): { address: string; shard: string }[] {
  return topology.shards.flatMap((s) => {
    const nodes = workload.replicaReads && s.replicas.length > 0 ? s.replicas : [s.leader];
    return nodes.map((address) => ({ address, shard: s.name }));
  });
}
