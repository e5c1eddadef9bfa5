/**
 * The routing client. It fetches the topology once, hashes each key with the same ring code
 * the nodes use, and sends the request straight to the owning shard's leader: no hop through
 * a proxy, and no redirect while its topology is current.
 *
 * When it is not current, a node answers 307/308 with a Location. The client follows it
 * (same method, body and Authorization), at most `redirectHopsMax` times, only to nodes in
 * the topology it held before the redirect or the seed list (so the token never leaves the
 * cluster, and a redirecting node cannot widen that list by answering the refresh), and
 * refreshes its topology, because a redirect means it routed by an old one.
 *
 * Replicas: with `readFrom: 'replica'` (for the client, or per read) a read goes to one of the
 * shard's replicas with `read=replica&min_seq=N`, where N is the highest sequence number this
 * client's writes on that shard were acknowledged at: a replica that has not applied N waits
 * briefly, then redirects to the leader, so the client always reads its own writes.
 * Writes take `acks` (0, 1 or 'all'; docs/replication.md says what each can lose).
 *
 * A request a node refuses with a 503 that promises nothing was done (REFUSED_RETRYABLE: its
 * key is in a shard migration's cutover, the shard is between leaders, or its leader is
 * waiting for a lease or for followers) is retried whatever the method, with backoff, for up to
 * `refusedRetryMsMax`, routed afresh each time: the caller sees a migration or a failover only
 * as a slower request. UNCONFIRMED (the write may have been made) is never retried.
 *
 * A request that fails to connect is retried (`retriesMax`, backoff from `retryDelayMs`)
 * when it is idempotent: GET, PUT and DELETE. POST /batch is not retried: a batch whose
 * reply was lost may have been applied, and the caller is the one to decide.
 *
 * Batches and multi-gets go in binary; a node older than that format answers 415 having done
 * nothing, and the request is resent to it once as JSON, as is every later one to that address
 * (`jsonOnlyNodes`; docs/formats/batch.md, "Upgrading").
 *
 * Concurrency: requests run in parallel; they share one topology reference, replaced
 * whole by `refreshTopology()`, which coalesces concurrent refreshes into one.
 *
 * @example
 * ```ts
 * const client = await Client.connect(['127.0.0.1:7001']);
 * await client.put('user:42', 'Ada');
 * const value = await client.get('user:42'); // Uint8Array of "Ada"
 * for await (const [key, value] of client.scan({ gte: 'user:', lt: 'user;' })) {}
 * client.close();
 * ```
 */
import { setTimeout as delay } from 'node:timers/promises';
// Each from its own module, not protocol/index.ts: the CLI's bundle then leaves out what only
// nodes use (the replication frames and their msgpack), and starts faster.
import { canonicalAddress } from '../protocol/address.ts';
import { encodeBatch, encodeGetBatch, type BatchOp } from '../protocol/batch-codec.ts';
import { BINARY_BATCH_MEDIA_TYPE, encodeBinaryBatch, encodeBinaryGetBatch } from '../protocol/batch-binary.ts';
import { DEFAULT_LIMITS, KEY_BYTES_MAX } from '../protocol/limits.ts';
import { percentEncode } from '../protocol/percent.ts';
import type { Acks } from '../protocol/replication-options.ts';
import { Topology } from '../protocol/topology.ts';
import { ClientError, ConnectionError, unreachableReason } from './errors.ts';
import { mergeSorted } from './merge.ts';
import { scanShard, type ScanOptions } from './scan.ts';
import { errorCode, expectStatus, readMultiGetAnswer, type Exchange } from './response.ts';
import { HttpTransport, type Transport, type TransportResponse } from './transport.ts';

export type KeyLike = Uint8Array | string;
export type BatchOperation = { type: 'put'; key: KeyLike; value: KeyLike } | { type: 'del'; key: KeyLike };
export type { ScanOptions, Acks };

/** Where reads go: the shard's leader (the default), or one of its replicas (read-your-writes kept). */
export type ReadFrom = 'leader' | 'replica';

export interface ReadOptions {
  readFrom?: ReadFrom;
  /** Shorthand for `readFrom: 'replica'`. */
  readReplica?: boolean;
  /**
   * A replica read waits until the replica has applied this sequence number (else it is sent
   * on to the leader): for reading another client's write. This client's own writes on the
   * shard are waited for anyway.
   */
  minSeq?: number;
}

export interface WriteOptions {
  /** fsync the leader's WAL before answering. */
  sync?: boolean;
  /** 1: in the leader's log (the server's default unless configured otherwise); 'all': applied by every in-sync follower. */
  acks?: 1 | 'all';
}

/** A write that waits for nothing: answered 202 before it is in any log, so it has no sequence number. */
export interface UnacknowledgedWriteOptions {
  sync?: boolean;
  acks: 0;
}

export interface ClientOptions {
  /** Sent as `Authorization: Bearer <token>` on every request. */
  token?: string;
  /** Where reads go unless a read says otherwise; default 'leader'. */
  readFrom?: ReadFrom;
  /** `acks` for writes that do not say; default: the server's (`[replication] acks`). */
  acks?: 1 | 'all';
  redirectHopsMax?: number;
  retriesMax?: number;
  retryDelayMs?: number;
  /** How long a request refused with one of REFUSED_RETRYABLE is retried before the error reaches the caller (0: not retried; default 0 when `retriesMax` is 0). */
  refusedRetryMsMax?: number;
  requestTimeoutMs?: number;
  responseBytesMax?: number;
  /** Entries asked for per scan page. */
  scanPageEntries?: number;
  transport?: Transport;
}

const DEFAULTS = {
  readFrom: 'leader' as ReadFrom,
  redirectHopsMax: 5,
  retriesMax: 3,
  retryDelayMs: 50,
  refusedRetryMsMax: 10_000,
  requestTimeoutMs: 30_000,
  responseBytesMax: 64 * 1024 * 1024,
  scanPageEntries: 1000,
};


const encoder = new TextEncoder();

/** 503 codes by which a node promises it did nothing with the request (docs/api.md), so a retry cannot apply it twice. */
const REFUSED_RETRYABLE: ReadonlySet<string> = new Set(['MIGRATING', 'NOT_LEADER', 'LEASE_EXPIRED', 'NOT_ENOUGH_REPLICAS', 'SHUTTING_DOWN']);
const REFUSED_RETRY_DELAY_MS_MAX = 500;
/**
 * Nodes asked at once for the topology (a few of those known: the one that showed a newer
 * version first, then others at random, so a deposed leader's old answer is outvoted), and how
 * long the rest get once one answered. Asking every node made each
 * failover a storm: 50 clients refreshing after each failed attempt slowed a 2-core cluster
 * enough to delay the new leader's lease (docs/failover.md: p99 3.1-3.4 s asking 9, 2.3 s asking 4).
 */
const TOPOLOGY_ASK_MAX = 4;
const TOPOLOGY_GRACE_MS = 200;

export class Client {
  private topology: Topology;
  private readonly seeds: readonly string[];
  private readonly options: typeof DEFAULTS & { token: string | undefined; acks: 1 | 'all' | undefined };
  private readonly transport: Transport;
  private refreshing: Promise<Topology> | undefined;
  /** Per shard, the highest sequence number a write of this client was acknowledged at. */
  private readonly lastSeqByShard = new Map<string, number>();
  /** Nodes that refused a binary batch with 415 (older than the format): sent JSON from then on. */
  private readonly jsonOnlyNodes = new Set<string>();

  private constructor(topology: Topology, seeds: string[], options: Client['options'], transport: Transport) {
    this.topology = topology;
    this.seeds = seeds;
    this.options = options;
    this.transport = transport;
  }

  /** Fetches the topology from the first of `addresses` that answers. */
  static async connect(addresses: readonly string[], options: ClientOptions = {}): Promise<Client> {
    const seeds = addresses.map((a) => canonicalAddress(a) ?? invalid(`not a host:port address: ${JSON.stringify(a)}`));
    if (seeds.length === 0) invalid('Client.connect needs at least one address');
    const resolved = { ...DEFAULTS, ...definedOnly(options), token: options.token, acks: options.acks };
    // `retriesMax: 0` asks for no retries: of refusals too, unless their bound is given.
    if (options.retriesMax === 0 && options.refusedRetryMsMax === undefined) resolved.refusedRetryMsMax = 0;
    if (resolved.readFrom !== 'leader' && resolved.readFrom !== 'replica') invalid(`readFrom must be 'leader' or 'replica', got ${JSON.stringify(resolved.readFrom)}`);
    const transport = options.transport ?? new HttpTransport({
      requestTimeoutMs: resolved.requestTimeoutMs,
      responseBytesMax: resolved.responseBytesMax,
      socketsPerNodeMax: 64,
    });
    const topology = await fetchTopology(transport, seeds, authHeaders(resolved.token));
    return new Client(topology, seeds, resolved, transport);
  }

  /** The topology requests are routed by. */
  currentTopology(): Topology {
    return this.topology;
  }

  /** The highest sequence number this client's writes on `shard` were acknowledged at. */
  lastSequence(shard: string): number | undefined {
    return this.lastSeqByShard.get(shard);
  }

  async get(key: KeyLike, options: ReadOptions = {}): Promise<Uint8Array | undefined> {
    const k = keyBytes(key);
    const fromReplica = (options.readFrom ?? (options.readReplica ? 'replica' : this.options.readFrom)) === 'replica';
    const minSeq = atLeast(this.lastSeqByShard.get(this.topology.shardOf(k).name), options.minSeq);
    const query = fromReplica ? `?read=replica${minSeq === undefined ? '' : `&min_seq=${minSeq}`}` : '';
    const res = await this.send({ method: 'GET', path: `/kv/${percentEncode(k)}${query}`, target: (t) => pickReader(t, k, fromReplica) }, true);
    if (res.status === 404 && errorCode(res) === 'KEY_NOT_FOUND') return undefined;
    expectStatus(res, 200);
    return res.body;
  }

  /**
   * Reads many keys: one POST /batch of gets per shard (per `DEFAULT_LIMITS.batchOpsMax` keys),
   * sent at once. Values come back in the order of `keys`, undefined where a key has none; each
   * shard's values are of one point in its log, different shards' are not of one point.
   */
  async getMany(keys: readonly KeyLike[], options: ReadOptions = {}): Promise<(Uint8Array | undefined)[]> {
    const all = keys.map(keyBytes);
    const fromReplica = (options.readFrom ?? (options.readReplica ? 'replica' : this.options.readFrom)) === 'replica';
    const groups = new Map<string, number[]>();
    all.forEach((key, i) => {
      const shard = this.topology.shardOf(key).name;
      const group = groups.get(shard) ?? groups.set(shard, []).get(shard)!;
      group.push(i);
    });
    const out: (Uint8Array | undefined)[] = new Array(all.length);
    const requests: Promise<void>[] = [];
    for (const [shard, indexes] of groups) {
      for (let at = 0; at < indexes.length; at += DEFAULT_LIMITS.batchOpsMax) {
        const part = indexes.slice(at, at + DEFAULT_LIMITS.batchOpsMax);
        const partKeys = part.map((i) => all[i]!);
        const minSeq = this.lastSeqByShard.get(shard);
        const query = fromReplica ? `?read=replica${minSeq === undefined ? '' : `&min_seq=${minSeq}`}` : '';
        const exchange: Exchange = {
          method: 'POST', path: `/batch${query}`, body: encodeBinaryGetBatch(partKeys), contentType: BINARY_BATCH_MEDIA_TYPE, jsonBody: () => encodeGetBatch(partKeys),
          target: (t) => pickReader(t, partKeys[0]!, fromReplica),
        };
        requests.push(
          this.send(exchange, true).then((res) => {
            expectStatus(res, 200);
            readMultiGetAnswer(res, partKeys.length).forEach((value, j) => (out[part[j]!] = value));
          }),
        );
      }
    }
    await Promise.all(requests);
    return out;
  }

  /** Resolves to the write's sequence number on its shard (undefined with acks: 0, which has none). */
  put(key: KeyLike, value: KeyLike, options?: WriteOptions): Promise<number>;
  put(key: KeyLike, value: KeyLike, options: UnacknowledgedWriteOptions): Promise<undefined>;
  async put(key: KeyLike, value: KeyLike, options: WriteOptions | UnacknowledgedWriteOptions = {}): Promise<number | undefined> {
    const k = keyBytes(key);
    const body = typeof value === 'string' ? encoder.encode(value) : value;
    const res = await this.send({ method: 'PUT', path: `/kv/${percentEncode(k)}${this.writeQuery(options)}`, body, contentType: 'application/octet-stream', target: (t) => t.shardOf(k).leader }, true);
    return this.written(res, k, options);
  }

  delete(key: KeyLike, options?: WriteOptions): Promise<number>;
  delete(key: KeyLike, options: UnacknowledgedWriteOptions): Promise<undefined>;
  async delete(key: KeyLike, options: WriteOptions | UnacknowledgedWriteOptions = {}): Promise<number | undefined> {
    const k = keyBytes(key);
    const res = await this.send({ method: 'DELETE', path: `/kv/${percentEncode(k)}${this.writeQuery(options)}`, target: (t) => t.shardOf(k).leader }, true);
    return this.written(res, k, options);
  }

  /** Applies operations on keys of one shard atomically; resolves to the batch's last sequence number. */
  batch(operations: readonly BatchOperation[], options?: WriteOptions): Promise<number>;
  batch(operations: readonly BatchOperation[], options: UnacknowledgedWriteOptions): Promise<undefined>;
  async batch(operations: readonly BatchOperation[], options: WriteOptions | UnacknowledgedWriteOptions = {}): Promise<number | undefined> {
    const ops: BatchOp[] = operations.map((op) =>
      op.type === 'put' ? { type: 'put', key: keyBytes(op.key), value: typeof op.value === 'string' ? encoder.encode(op.value) : op.value } : { type: 'del', key: keyBytes(op.key) });
    const first = ops[0];
    if (!first) invalid('batch needs at least one operation');
    const shard = this.topology.shardOf(first!.key).name;
    const stray = ops.find((op) => this.topology.shardOf(op.key).name !== shard);
    if (stray) throw new ClientError('WRONG_SHARD', `batch key ${JSON.stringify(percentEncode(stray.key))} is not on shard ${JSON.stringify(shard)} like the first key; split the batch by shard`);
    const res = await this.send({ method: 'POST', path: `/batch${this.writeQuery(options)}`, body: encodeBinaryBatch(ops), contentType: BINARY_BATCH_MEDIA_TYPE, jsonBody: () => encodeBatch(ops), target: (t) => t.shardOf(first!.key).leader }, false);
    return this.written(res, first!.key, options);
  }

  private writeQuery(options: WriteOptions | UnacknowledgedWriteOptions): string {
    const acks = options.acks ?? this.options.acks;
    const params = [options.sync ? 'sync=true' : '', acks === undefined ? '' : `acks=${acks}`].filter(Boolean);
    return params.length === 0 ? '' : `?${params.join('&')}`;
  }

  /** The write's sequence number, remembered per shard for read-your-writes on replicas. */
  private written(res: TransportResponse, key: Uint8Array, options: WriteOptions | UnacknowledgedWriteOptions): number | undefined {
    if (options.acks === 0) {
      expectStatus(res, 202);
      return undefined;
    }
    const seq = seqOf(res);
    const shard = this.topology.shardOf(key).name;
    this.lastSeqByShard.set(shard, Math.max(seq, this.lastSeqByShard.get(shard) ?? 0));
    return seq;
  }

  /** Every shard's entries in the range, merged into one bytewise-sorted stream. */
  scan(options: ScanOptions = {}): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const fromReplica = (options.readFrom ?? this.options.readFrom) === 'replica';
    const streams = this.topology.shards.map((shard) => {
      const replica = fromReplica ? { minSeq: atLeast(this.lastSeqByShard.get(shard.name), options.minSeq) } : undefined;
      return scanShard((exchange) => this.send(exchange, true), shard.name, options, this.options.scanPageEntries, replica);
    });
    return mergeSorted(streams, options.limit);
  }

  /**
   * Fetches /cluster again; keeps the current topology if the answer is older. Coalesces callers.
   * `from`: a node of this cluster that just showed it routes by a newer version (a redirect, a
   * refusal, an `X-Version`): asked first, so the refresh gets at least what it saw. A caller
   * that arrives while a refresh is under way shares that one, whoever it asks.
   */
  refreshTopology(from?: string): Promise<Topology> {
    const first = from !== undefined && this.knows(from) ? from : undefined;
    this.refreshing ??= fetchTopology(this.transport, [...this.topology.addresses(), ...this.seeds], authHeaders(this.options.token), first)
      .then((fresh) => {
        if (fresh.version >= this.topology.version) this.topology = fresh;
        return this.topology;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /**
   * An admin request (POST, JSON body) to the first node that answers, or to `options.node`
   * only (a node of this cluster: the token goes nowhere else); resolves to its JSON answer.
   * Not retried once a node answered: an admin command may have taken effect.
   */
  async admin(path: string, body: Record<string, unknown>, options: { node?: string } = {}): Promise<unknown> {
    const headers = { ...authHeaders(this.options.token), 'Content-Type': 'application/json' };
    const failures: string[] = [];
    if (options.node !== undefined && !this.knows(options.node)) invalid(`${options.node} is not a node of this cluster (${this.topology.addresses().join(', ')})`);
    const targets = options.node === undefined ? [...this.topology.addresses(), ...this.seeds] : [options.node];
    for (const address of new Set(targets)) {
      let res: TransportResponse;
      try {
        res = await this.transport.request(address, { method: 'POST', path, headers, body: encoder.encode(JSON.stringify(body)) });
      } catch (error) {
        if (!(error instanceof ConnectionError)) throw error;
        failures.push(`${address}: ${error.message}`);
        continue;
      }
      expectStatus(res, 200);
      return JSON.parse(Buffer.from(res.body).toString('utf8'));
    }
    throw new ClientError('UNAVAILABLE', `no node answered POST ${path} (${failures.join('; ')})`);
  }

  close(): void {
    this.transport.close();
  }

  /** Sends one exchange, following redirects and retrying connection failures as described above. */
  async send(exchange: Exchange, idempotent: boolean): Promise<TransportResponse> {
    let address = exchange.target(this.topology);
    let path = exchange.path;
    let hops = 0;
    let retries = 0;
    let refusals = 0;
    let refusedSince: number | undefined;
    const json = jsonFallback(exchange);
    for (;;) {
      const asJson = json !== undefined && this.jsonOnlyNodes.has(address);
      const headers: Record<string, string> = { ...authHeaders(this.options.token) };
      const contentType = asJson ? 'application/json' : exchange.contentType;
      if (contentType) headers['Content-Type'] = contentType;
      let res: TransportResponse;
      try {
        res = await this.transport.request(address, { method: exchange.method, path, headers, body: asJson ? json!() : exchange.body });
      } catch (error) {
        if (!(error instanceof ConnectionError)) throw error;
        if (!idempotent || retries >= this.options.retriesMax) {
          throw new ClientError('UNAVAILABLE', `${exchange.method} ${path.slice(0, 100)} failed: ${error.message}`, { cause: error });
        }
        await delay(this.options.retryDelayMs * 2 ** retries++);
        // The node may be gone for good; a fresh topology may name its successor. If no node
        // answers the refresh either, the retry below fails and reports that.
        await this.refreshTopology().catch(() => this.topology);
        address = exchange.target(this.topology);
        path = exchange.path;
        continue;
      }
      if (res.status === 503 && REFUSED_RETRYABLE.has(errorCode(res) ?? '')) {
        refusedSince ??= performance.now();
        if (performance.now() - refusedSince < this.options.refusedRetryMsMax) {
          await delay(Math.min(this.options.retryDelayMs * 2 ** refusals++, REFUSED_RETRY_DELAY_MS_MAX));
          await this.refreshTopology(address).catch(() => this.topology);
          address = exchange.target(this.topology);
          path = exchange.path;
          continue;
        }
      }
      // A node from before the binary batch format: nothing was done, so even a batch of
      // writes is safe to send again, once, as JSON; later requests to it go as JSON at once.
      if (res.status === 415 && json !== undefined && !asJson && errorCode(res) === 'UNSUPPORTED_MEDIA_TYPE') {
        this.jsonOnlyNodes.add(address);
        continue;
      }
      if (res.status !== 307 && res.status !== 308) {
        await this.noteVersion(res, address);
        return res;
      }
      if (++hops > this.options.redirectHopsMax) {
        throw new ClientError('TOO_MANY_REDIRECTS', `${exchange.method} ${exchange.path.slice(0, 100)}: more than ${this.options.redirectHopsMax} redirects`);
      }
      ({ address, path } = await this.followable(res, address));
    }
  }

  /**
   * Where a redirect points, checked against the topology held before the redirect (a node
   * answering the refresh must not be able to vouch for the target it redirects to), then
   * the topology is refreshed, since a redirect means it is stale. The path is kept as the
   * node wrote it: URL parsing would resolve a key `..` (sent as `%2E%2E`) away.
   */
  private async followable(res: TransportResponse, from: string): Promise<{ address: string; path: string }> {
    const location = res.headers['location'];
    const parts = /^http:\/\/([^/?#]+)(\/[^#]*)?$/.exec(location ?? '');
    if (!parts) throw new ClientError('BAD_RESPONSE', `redirect without a valid absolute http Location: ${JSON.stringify(location)}`);
    const address = canonicalAddress(parts[1]!);
    if (!address || !this.knows(address)) {
      throw new ClientError('REDIRECT_OUTSIDE_CLUSTER', `redirect to ${JSON.stringify(location)}, which is not a node of this cluster`);
    }
    // Best effort: a failed refresh leaves the topology that already knows the target.
    await this.refreshTopology(from).catch(() => this.topology);
    return { address, path: parts[2] ?? '/' };
  }

  /**
   * A node routing by a newer metadata version than ours means our topology is stale even though this
   * request landed well; refresh before the next one goes astray. A failed refresh keeps the
   * old topology: this request has its answer, and the next one meets a redirect or an error.
   */
  private async noteVersion(res: TransportResponse, from: string): Promise<void> {
    const version = Number(res.headers['x-version']);
    if (Number.isSafeInteger(version) && version > this.topology.version) await this.refreshTopology(from).catch(() => this.topology);
  }

  private knows(address: string): boolean {
    return this.seeds.includes(address) || this.topology.addresses().includes(address);
  }
}

/** An exchange's JSON body, encoded at most once (on the first node that needs it), or undefined if it has none. */
function jsonFallback(exchange: Exchange): (() => Uint8Array) | undefined {
  const encode = exchange.jsonBody;
  if (encode === undefined) return undefined;
  let body: Uint8Array | undefined;
  return () => (body ??= encode());
}

/**
 * The newest topology the nodes know: GET /cluster of up to TOPOLOGY_ASK_MAX nodes at once,
 * `first` (if given) and others chosen at random, the highest version among the answers. Not
 * the first answer: a deposed leader cut off from the control plane still answers, with the
 * topology that names it. Once one node answered,
 * the others get TOPOLOGY_GRACE_MS more (a node that does not answer at all must not hold the
 * refresh for a whole request timeout).
 */
function fetchTopology(transport: Transport, addresses: readonly string[], headers: Record<string, string>, first?: string): Promise<Topology> {
  const others = shuffled([...new Set(addresses)].filter((a) => a !== first));
  const targets = (first === undefined ? others : [first, ...others]).slice(0, TOPOLOGY_ASK_MAX);
  const failures: string[] = [];
  let refusal: ClientError | undefined;
  let best: Topology | undefined;
  let pending = targets.length;
  return new Promise((resolve, reject) => {
    let grace: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(grace);
      if (best) return resolve(best);
      const message = `no node answered GET /cluster (${failures.join('; ')})`;
      reject(new ClientError(refusal?.code ?? 'UNAVAILABLE', message, { status: refusal?.status }));
    };
    if (pending === 0) return finish();
    for (const address of targets) {
      transport.request(address, { method: 'GET', path: '/cluster', headers }).then((res) => {
        expectStatus(res, 200);
        const topology = Topology.fromJson(JSON.parse(Buffer.from(res.body).toString('utf8')));
        if (!best || topology.version > best.version) best = topology;
        grace ??= setTimeout(finish, TOPOLOGY_GRACE_MS);
      }).catch((error: unknown) => {
        // A node that answered with an error (e.g. UNAUTHORIZED) says more than one that did not answer.
        if (error instanceof ClientError && error.status !== undefined) refusal ??= error;
        failures.push(error instanceof ConnectionError ? `${address} ${unreachableReason(error)}` : `${address}: ${(error as { code?: string }).code ?? 'ERROR'}: ${(error as Error).message}`);
      }).finally(() => {
        if (--pending === 0) finish();
      });
    }
  });
}

function pickReader(topology: Topology, key: Uint8Array, readReplica: boolean): string {
  const shard = topology.shardOf(key);
  // Spread replica reads over the shard's nodes; which one does not matter for correctness.
  if (!readReplica || shard.replicas.length === 0) return shard.leader;
  return shard.replicas[Math.floor(Math.random() * shard.replicas.length)]!;
}

/** The larger of two optional sequence numbers. */
function atLeast(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

function keyBytes(key: KeyLike): Uint8Array {
  const bytes = typeof key === 'string' ? encoder.encode(key) : key;
  if (!(bytes instanceof Uint8Array)) invalid(`key must be a string or Uint8Array, got ${typeof key}`);
  if (bytes.length === 0 || bytes.length > KEY_BYTES_MAX) invalid(`key must be 1-${KEY_BYTES_MAX} bytes, got ${bytes.length}`);
  return bytes;
}

function seqOf(res: TransportResponse): number {
  if (res.status === 202) throw new ClientError('BAD_RESPONSE', 'the write was answered 202 (the server defaults to acks=0) and has no sequence number; pass acks: 1 or acks: \'all\'');
  expectStatus(res, 204);
  const seq = Number(res.headers['x-seq']);
  if (!Number.isSafeInteger(seq)) throw new ClientError('BAD_RESPONSE', `write answered without a valid X-Seq header: ${JSON.stringify(res.headers['x-seq'])}`);
  return seq;
}

function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { Authorization: `Bearer ${token}` };
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function invalid(message: string): never {
  throw new ClientError('INVALID_ARGUMENT', message);
}

/** `items` in a random order (Fisher-Yates, in place). */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
