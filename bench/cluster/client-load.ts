/**
 * Load through the client library (net/client.ts): one Client, `connections` workers each
 * awaiting one request at a time, the way an application would use it. The client hashes
 * each key to its shard and sends it to the owner itself (a replica with
 * `readFrom: 'replica'`).
 *
 * Bounded: every worker stops at the deadline or once the run has made `opsMax` requests.
 */
import { Client } from '../../net/index.ts';
import { KeyChooser, Random } from './keys.ts';
import { Recorder, type RunFigures } from './recorder.ts';
import type { Workload } from './workloads.ts';

export interface ClientRun {
  label: string;
  workload: Workload;
  /** Any node: the client fetches the topology from it. */
  seed: string;
  keys: Uint32Array;
  connections: number;
  seconds: number;
  opsMax: number;
  value: Uint8Array;
  randomSeed: number;
}

export async function runClient(run: ClientRun): Promise<RunFigures> {
  const client = await Client.connect([run.seed], { retriesMax: 0 });
  const recorder = new Recorder(run.label);
  try {
    recorder.start();
    const deadline = performance.now() + run.seconds * 1000;
    await Promise.all(Array.from({ length: run.connections }, (_, i) => worker(client, run, deadline, new Random(run.randomSeed + i), recorder)));
    return recorder.finish();
  } finally {
    client.close();
  }
}

async function worker(client: Client, run: ClientRun, deadline: number, random: Random, recorder: Recorder): Promise<void> {
  const keys = new KeyChooser(run.keys, run.workload.zipfian, random);
  const { workload, value } = run;
  const readFrom = workload.replicaReads ? 'replica' : 'leader';
  while (recorder.count < run.opsMax) {
    const started = performance.now();
    if (started >= deadline) return;
    const key = keys.next();
    try {
      if (random.next() < workload.readShare) {
        if ((await client.get(key, { readFrom })) === undefined) throw Object.assign(new Error('missing key'), { code: 'KEY_NOT_FOUND' });
      } else await client.put(key, value, { acks: workload.acks });
      recorder.success(performance.now() - started);
    } catch (error) {
      recorder.failure((error as { code?: string }).code ?? (error as Error).message);
    }
  }
}
