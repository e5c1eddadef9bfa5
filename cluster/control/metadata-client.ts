/**
 * A node's link to the control plane, controller or not: it watches the committed metadata
 * (a long-poll, `GET /internal/meta?after=V`, on one controller after another) and hands every
 * newer version to the node; it proposes commands (`POST /internal/control/propose`) and asks
 * for leases (`POST /internal/control/lease`) at the control plane's leader, following the
 * leader hint a controller gives when it does not lead.
 *
 * A version only ever moves forward here: an answer older than what the node has is ignored,
 * so a controller that lags cannot take the node back in time.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ClusterError, type ClusterErrorCode } from '../../protocol/errors.ts';
import { CONTROL_CALL_TIMEOUT_MS, CONTROL_RETRY_DELAY_MS_MAX, META_LONG_POLL_MS } from '../limits.ts';
import { errorFields, type Log } from '../log.ts';
import type { PeerAnswer, Peers } from '../peers.ts';
import { decodeMetadata } from './metadata-machine.ts';
import type { Command, Metadata } from './metadata.ts';

export interface MetadataClientOptions {
  /** This node, named as the proposer of its commands. */
  address: string;
  controllers: readonly string[];
  peers: Peers;
  log: Log;
  initial: Metadata;
  /** Called with each newer metadata, in version order. */
  onMetadata(metadata: Metadata): void;
  /**
   * Called once, after the first answer of a controller (and the onMetadata it brought, if newer):
   * from then on the metadata is the control plane's, not only what this node cached before a
   * restart, which can be far behind.
   */
  onConfirmed?(): void;
}

export class MetadataClient {
  private current: Metadata;
  private cursor = 0;
  private leaderHint: string | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: MetadataClientOptions) {
    this.current = o.initial;
  }

  get metadata(): Metadata {
    return this.current;
  }

  start(): void {
    this.loop ??= this.watch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  /** Fetches the metadata now, from any controller, without waiting for a change. */
  refresh(): void {
    void this.fetchOnce(0).catch(() => undefined);
  }

  /** Commits `command` through the control plane's leader; the metadata after it, or its refusal. */
  async propose(command: Command): Promise<Metadata> {
    const answer = await this.atLeader('/internal/control/propose', { command, from: this.o.address });
    const metadata = decodeMetadata(answer.json, 'proposal answer');
    this.offer(metadata);
    return metadata;
  }

  /** A lease for this node as leader of `shard` at `term`: its length in ms, counted from before the call. */
  async lease(shard: string, term: number): Promise<number> {
    const answer = await this.atLeader('/internal/control/lease', { shard, node: this.o.address, term });
    const leaseMs = (answer.json as { leaseMs?: unknown } | undefined)?.leaseMs;
    if (!Number.isSafeInteger(leaseMs) || (leaseMs as number) <= 0) throw new ClusterError('INTERNAL', `lease answer without leaseMs: ${JSON.stringify(answer.json)}`);
    return leaseMs as number;
  }

  private async watch(): Promise<void> {
    let failures = 0;
    let confirmed = false;
    while (!this.stopped) {
      try {
        // The first ask does not wait for a change: the cached metadata may already be current.
        const version = await this.fetchOnce(confirmed ? META_LONG_POLL_MS : 0);
        failures = 0;
        if (!confirmed) {
          if (version < this.current.version) {
            // A controller behind what this node cached (one that was cut off, say) confirms nothing: ask the next.
            this.cursor = (this.cursor + 1) % this.o.controllers.length;
            await delay(CONTROL_RETRY_DELAY_MS_MAX, undefined, { ref: false });
            continue;
          }
          confirmed = true;
          this.o.onConfirmed?.();
        }
      } catch (error) {
        failures++;
        this.cursor = (this.cursor + 1) % this.o.controllers.length;
        if (failures === 1 || failures % 50 === 0) this.o.log('debug', 'metadata watch failed; trying the next controller', { failures, ...errorFields(error) });
        await delay(Math.min(CONTROL_RETRY_DELAY_MS_MAX, 25 * 2 ** Math.min(failures, 6)), undefined, { ref: false });
      }
    }
  }

  /** Asks one controller (long-polling up to `waitMs`); returns the version it answered with. */
  private async fetchOnce(waitMs: number): Promise<number> {
    const controller = this.o.controllers[this.cursor]!;
    const answer = await this.o.peers.call(controller, 'GET', `/internal/meta?after=${this.current.version}&wait_ms=${waitMs}`, { timeoutMs: waitMs + CONTROL_CALL_TIMEOUT_MS });
    if (answer.status !== 200) throw refusal(answer, `GET /internal/meta on ${controller}`);
    const metadata = decodeMetadata(answer.json, `metadata from ${controller}`);
    this.offer(metadata);
    return metadata.version;
  }

  private offer(metadata: Metadata): void {
    if (metadata.version <= this.current.version) return;
    this.current = metadata;
    this.o.onMetadata(metadata);
  }

  /** POSTs `body` to the control plane's leader, following hints; at most two rounds of the controllers. */
  private async atLeader(path: string, body: unknown): Promise<PeerAnswer> {
    let last: Error | undefined;
    const attempts = this.o.controllers.length * 2;
    for (let i = 0; i < attempts; i++) {
      const target = this.leaderHint ?? this.o.controllers[(this.cursor + i) % this.o.controllers.length]!;
      let answer: PeerAnswer;
      try {
        answer = await this.o.peers.call(target, 'POST', path, { json: body, timeoutMs: CONTROL_CALL_TIMEOUT_MS });
      } catch (error) {
        last = error as Error;
        this.leaderHint = undefined;
        continue;
      }
      if (answer.status === 200) {
        this.leaderHint = target;
        return answer;
      }
      const error = refusal(answer, `POST ${path} on ${target}`);
      if (error.code !== 'NOT_CONTROLLER') throw error;
      last = error;
      const hint = answer.headers['x-controller-leader'];
      this.leaderHint = hint && this.o.controllers.includes(hint) && hint !== target ? hint : undefined;
      if (!this.leaderHint) await delay(Math.min(CONTROL_RETRY_DELAY_MS_MAX, 50 * (i + 1)), undefined, { ref: false });
    }
    throw new ClusterError('NOT_CONTROLLER', `no controller leads the control plane (tried ${attempts} times): ${last?.message ?? 'no answer'}`, { cause: last });
  }
}

/** A controller's JSON error answer as a ClusterError with its code. */
function refusal(answer: PeerAnswer, what: string): ClusterError {
  const body = answer.json as { code?: unknown; message?: unknown } | undefined;
  const code = typeof body?.code === 'string' ? (body.code as ClusterErrorCode) : 'INTERNAL';
  return new ClusterError(code, `${what}: ${answer.status} ${typeof body?.message === 'string' ? body.message : ''}`.trim());
}
