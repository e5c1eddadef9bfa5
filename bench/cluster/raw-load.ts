/**
 * Load through raw HTTP with autocannon: one autocannon instance per target node, the
 * connections split evenly among them, each request built on the fly (its key drawn from the
 * keys the target's shard owns, so a leader never has to redirect). A batch workload's request
 * carries that many keys, drawn the same way. autocannon keeps its own
 * histogram in whole milliseconds; each response's exact time goes to our Recorder instead.
 *
 * Bounded: each instance stops after `seconds` or after its share of `opsMax` responses,
 * whichever comes first.
 */
import autocannon from 'autocannon';
import { KeyChooser, Random } from './keys.ts';
import { Recorder, type RunFigures } from './recorder.ts';
import { batchPutRequest, binaryBatchPutRequest, binaryMultiGetRequest, multiGetRequest, readPath, writePath, type Workload } from './workloads.ts';

const EMPTY = Buffer.alloc(0);

export interface RawTarget {
  address: string;
  /** The key indexes this target owns. */
  keys: Uint32Array;
}

export interface RawRun {
  label: string;
  workload: Workload;
  targets: RawTarget[];
  connections: number;
  seconds: number;
  opsMax: number;
  value: Buffer;
  seed: number;
}

export async function runRaw(run: RawRun): Promise<RunFigures> {
  const recorder = new Recorder(run.label);
  const shares = split(run.connections, run.targets.length);
  recorder.start();
  await Promise.all(run.targets.map((target, i) => {
    if (shares[i] === 0) return undefined;
    return loadOne(run, target, shares[i]!, Math.ceil(run.opsMax / run.targets.length), run.seed + i, recorder);
  }));
  return recorder.finish();
}

type SetupRequest = (request: autocannon.Request) => autocannon.Request;

function loadOne(run: RawRun, target: RawTarget, connections: number, opsMax: number, seed: number, recorder: Recorder): Promise<void> {
  const random = new Random(seed);
  const keys = new KeyChooser(target.keys, run.workload.zipfian, random);
  const setupRequest = run.workload.batch ? batchRequests(run, run.workload.batch, keys) : singleRequests(run, keys, random);
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: `http://${target.address}`,
      connections,
      duration: run.seconds,
      maxOverallRequests: opsMax,
      timeout: 10,
      requests: [{ setupRequest }],
    }, (error) => (error ? reject(error) : resolve()));
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) recorder.success(ms);
      else recorder.failure(String(status));
    });
    instance.on('reqError', (error: Error & { code?: string }) => recorder.failure(error.code ?? error.message));
  });
}

/** Requests of one key each, a read or a write as the workload's read share draws. */
function singleRequests(run: RawRun, keys: KeyChooser, random: Random): SetupRequest {
  const { workload, value } = run;
  // A fresh headers object each time: autocannon adds Content-Length to the one it is given,
  // and a GET carrying a PUT's Content-Length would make the server wait for a body.
  return (request) => {
    const key = keys.next();
    if (random.next() < workload.readShare) return { ...request, method: 'GET', path: readPath(workload, key), headers: {}, body: EMPTY };
    return { ...request, method: 'PUT', path: writePath(workload, key), headers: {}, body: value };
  };
}

/** Requests of `batch.ops` keys each: a POST /batch of puts, or a multi-get; binary or JSON. */
function batchRequests(run: RawRun, batch: NonNullable<Workload['batch']>, keys: KeyChooser): SetupRequest {
  const valueJson = JSON.stringify(run.value.toString('latin1'));
  return (request) => {
    const chosen = Array.from({ length: batch.ops }, () => keys.next());
    if (batch.format === 'binary') {
      const { contentType, ...built } = batch.kind === 'put' ? binaryBatchPutRequest(run.workload, chosen, run.value) : binaryMultiGetRequest(chosen);
      return { ...request, ...built, headers: { 'content-type': contentType } };
    }
    const built = batch.kind === 'put' ? batchPutRequest(run.workload, chosen, valueJson) : multiGetRequest(chosen);
    return { ...request, ...built, headers: { 'content-type': 'application/json' } };
  };
}

/** `total` split into `parts` integers differing by at most one. */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}
