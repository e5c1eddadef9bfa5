/**
 * The five workloads of the cluster benchmark, as data: the share of reads, how keys are
 * drawn, the acks of writes, and where reads go. Drivers (raw-load.ts, client-load.ts) turn
 * an `Op` into a request their own way.
 */
import type { Topology } from '../../cluster/index.ts';
import type { WorkloadName } from './options.ts';

export interface Workload {
  name: WorkloadName;
  /** What the table and chart call it. */
  title: string;
  /** Probability that an operation is a read; the rest are writes. */
  readShare: number;
  zipfian: boolean;
  acks: 1 | 'all';
  /** Reads go to replicas (`read=replica`) instead of leaders. */
  replicaReads: boolean;
}

export const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = Object.freeze({
  get: { name: 'get', title: 'GET 100%', readShare: 1, zipfian: false, acks: 1, replicaReads: false },
  'put-acks-1': { name: 'put-acks-1', title: 'PUT 100%, acks=1', readShare: 0, zipfian: false, acks: 1, replicaReads: false },
  'put-acks-all': { name: 'put-acks-all', title: 'PUT 100%, acks=all', readShare: 0, zipfian: false, acks: 'all', replicaReads: false },
  'mix-zipf': { name: 'mix-zipf', title: 'GET 90% / PUT 10%, zipfian', readShare: 0.9, zipfian: true, acks: 1, replicaReads: false },
  'replica-get': { name: 'replica-get', title: 'GET 100% from replicas', readShare: 1, zipfian: false, acks: 1, replicaReads: true },
});

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
  return `/kv/${key}?acks=${workload.acks}`;
}

/** For raw HTTP: each node the workload sends to, with the shard whose keys it serves. */
export function rawTargets(workload: Workload, topology: Topology): { address: string; shard: string }[] {
  return topology.shards.flatMap((s) => {
    const nodes = workload.replicaReads && s.replicas.length > 0 ? s.replicas : [s.leader];
    return nodes.map((address) => ({ address, shard: s.name }));
  });
}
