/**
 * The test process's handle on one host's relay (relay.ts): starts it inside the host's
 * namespace, sends it shaping commands and waits for each answer. One command is answered
 * before the next is sent, in order; an answer that does not come within EXIT_WAIT_MS, or the
 * relay exiting, fails the command with the relay's stderr.
 */
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { LinkShape } from '../helpers/tcp-proxy.ts';
import { EXIT_WAIT_MS, NODE_PORT, START_WAIT_MS } from './constants.ts';
import { ipsOf, type HostSpec } from './host-plan.ts';
import type { HostNetwork } from './host-network.ts';
import { CLIENT, type Endpoint } from './reachability.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RelayStats {
  connections: number;
  bytesForwarded: number;
  chunksDelayed: number;
  chunksStalled: number;
}

interface Answer {
  id?: number;
  ok?: boolean;
  ready?: boolean;
  error?: string;
  stats?: RelayStats;
}

export class HostRelay {
  readonly host: HostSpec;
  private readonly child: ChildProcess;
  private readonly answers: Answer[] = [];
  private wake: () => void = () => {};
  private stderrText = '';
  private nextId = 1;
  private readonly exited: Promise<void>;

  private constructor(host: HostSpec, child: ChildProcess) {
    this.host = host;
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => this.wake());
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stderrText.length < 16_384) this.stderrText += chunk;
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.answers.push(JSON.parse(line) as Answer);
      this.wake();
    });
  }

  /** Starts the relay of `host` (listening on its public address, forwarding to its node's). */
  static async start(network: HostNetwork, host: HostSpec, seed: number): Promise<HostRelay> {
    const peers = [...network.hosts.map((h) => `${h.name}=${ipsOf(h).join(',')}`), `${CLIENT}=${network.plan.rootIp}`].join(';');
    const args = ['--import', 'tsx', 'test/hosts/relay.ts', '--listen', `${host.publicIp}:${NODE_PORT}`, '--target', `${host.nodeIp}:${NODE_PORT}`, '--peers', peers, '--seed', String(seed)];
    const child = network.spawnIn(host.name, process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const relay = new HostRelay(host, child);
    await relay.next(START_WAIT_MS, 'to start');
    return relay;
  }

  /** Shapes connections coming from `from` (`*`: from anywhere) on this host. */
  shape(from: Endpoint | '*', shape: LinkShape): Promise<RelayStats> {
    return this.command({ op: 'shape', from, ...shape });
  }

  /** Removes every shape. */
  clear(): Promise<RelayStats> {
    return this.command({ op: 'clear' });
  }

  stats(): Promise<RelayStats> {
    return this.command({ op: 'stats' });
  }

  /** Closes its stdin (it exits on that) and waits; kills it if it does not. */
  async close(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_WAIT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private async command(body: object): Promise<RelayStats> {
    const id = this.nextId++;
    this.child.stdin!.write(`${JSON.stringify({ id, ...body })}\n`);
    const answer = await this.next(EXIT_WAIT_MS, `to answer ${JSON.stringify(body)}`);
    if (answer.id !== id || !answer.ok || !answer.stats) throw new Error(`relay on ${this.host.name}: ${answer.error ?? `unexpected answer ${JSON.stringify(answer)}`}`);
    return answer.stats;
  }

  /** The next line the relay writes, within `timeoutMs`. */
  private async next(timeoutMs: number, what: string): Promise<Answer> {
    const deadline = Date.now() + timeoutMs;
    while (this.answers.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`relay on ${this.host.name} exited before ${what}:\n${this.stderrText}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`relay on ${this.host.name} did not manage ${what} within ${timeoutMs} ms:\n${this.stderrText}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.answers.shift()!;
  }
}
