/**
 * The nemesis: the faults a Jepsen test throws at a cluster, on a HostCluster. Each method
 * applies one fault, records it in the NemesisLog (kind, detail, time) once it is in force, and
 * resolves. Faults and how they are made:
 *
 *   partitions   isolate, split, bridge, oneWay, partition(cuts)   neighbor entries pointing at a MAC
 *                no one has (reachability.ts): silent, directed drops. A new partition replaces
 *                the one in force; heal() ends it. The test process (`client`) keeps reaching
 *                every host unless a partition names it.
 *   link down    linkDown / linkUp      `ip link set eth0 down` in the host: off the network,
 *                                        for its peers and the clients alike
 *   crash        kill / restart         SIGKILL of the node (the pid is the node itself), then
 *                                        a new node on the same data directory
 *   pause        pause / resume         SIGSTOP / SIGCONT of the node: alive but silent, and it
 *                                        wakes up believing whatever it believed
 *   delay, loss  slow / lossy / unshape  the hosts' relays (relay.ts; the cluster needs
 *                                        `relays: true`): every connection to or from the host
 *                                        gets the delay, or chunks stall as a lost TCP segment
 *                                        would make them (no netem here)
 *
 * `healAll()` undoes everything in force (for a finally block). One fault operation at a time:
 * the methods are awaited in turn by one scheduler.
 */
import type { LinkShape } from '../helpers/tcp-proxy.ts';
import type { HostCluster } from './host-cluster.ts';
import { NemesisLog } from './nemesis-log.ts';
import { bridge, CLIENT, describeCuts, isolate, NO_CUTS, oneWay, split, type Cuts } from './reachability.ts';

export class Nemesis {
  readonly log: NemesisLog;
  private readonly cluster: HostCluster;
  private readonly paused = new Set<string>();
  private readonly killed = new Set<string>();
  private readonly linksDown = new Set<string>();
  private shaped = false;

  constructor(cluster: HostCluster, log: NemesisLog = new NemesisLog()) {
    this.cluster = cluster;
    this.log = log;
  }

  /** `host` cut off from every other host (and from the clients too with `clients: true`). */
  isolate(host: string, options: { clients?: boolean } = {}): Promise<void> {
    const others = [...this.cluster.hostNames, ...(options.clients ? [CLIENT] : [])];
    return this.partition('isolate', isolate(host, others));
  }

  /** No host in one group reaches any in another (e.g. a majority and a minority). */
  split(...groups: string[][]): Promise<void> {
    return this.partition('split', split(groups));
  }

  /** `left` and `right` cannot reach each other; `middle` reaches both. */
  bridge(left: string[], middle: string, right: string[]): Promise<void> {
    return this.partition('bridge', bridge(left, middle, right));
  }

  /** `from` cannot send to `to`; the other way still works. */
  oneWay(from: string, to: string): Promise<void> {
    return this.partition('one-way', oneWay(from, to));
  }

  /** Any set of directed cuts, logged under `kind`. */
  async partition(kind: 'isolate' | 'split' | 'bridge' | 'one-way', cuts: Cuts): Promise<void> {
    await this.cluster.network.setCuts(cuts);
    this.log.record(kind, describeCuts(cuts));
  }

  /** Ends the partition in force. */
  async heal(): Promise<void> {
    const was = describeCuts(this.cluster.network.cuts);
    await this.cluster.network.setCuts(NO_CUTS);
    this.log.record('heal', `was ${was}`);
  }

  async linkDown(host: string): Promise<void> {
    await this.cluster.network.setLinkDown(host, true);
    this.linksDown.add(host);
    this.log.record('link-down', host);
  }

  async linkUp(host: string): Promise<void> {
    await this.cluster.network.setLinkDown(host, false);
    this.linksDown.delete(host);
    this.log.record('link-up', host);
  }

  /** kill -9 of the node on `host`. */
  async kill(host: string): Promise<void> {
    const pid = this.cluster.node(host).pid;
    await this.cluster.kill(host);
    this.killed.add(host);
    this.log.record('kill', `${host} (pid ${pid})`);
  }

  /** A new node on `host`'s data; resolves once it is healthy. */
  async restart(host: string): Promise<void> {
    const node = await this.cluster.startNode(host);
    this.killed.delete(host);
    this.log.record('restart', `${host} (pid ${node.pid})`);
  }

  pause(host: string): void {
    this.cluster.node(host).signal('SIGSTOP');
    this.paused.add(host);
    this.log.record('pause', `${host} (SIGSTOP to pid ${this.cluster.node(host).pid})`);
  }

  resume(host: string): void {
    this.cluster.node(host).signal('SIGCONT');
    this.paused.delete(host);
    this.log.record('resume', `${host} (SIGCONT)`);
  }

  /** Every connection to or from `host` gets `delayMs` more on each chunk, both ways. */
  async slow(host: string, delayMs: number): Promise<void> {
    await this.shapeHost(host, { delayMs, lossChance: 0, stallMs: 0 });
    this.log.record('slow', `${host} +${delayMs} ms a chunk`);
  }

  /** Chunks to or from `host` stall `stallMs` with chance `lossChance`, as lost segments would. */
  async lossy(host: string, lossChance: number, stallMs: number): Promise<void> {
    await this.shapeHost(host, { delayMs: 0, lossChance, stallMs });
    this.log.record('lossy', `${host} ${(lossChance * 100).toFixed(1)} % of chunks stall ${stallMs} ms`);
  }

  /** Removes every delay and loss. */
  async unshape(): Promise<void> {
    const stats = await Promise.all([...this.relaysOrThrow().values()].map((r) => r.clear()));
    this.shaped = false;
    const delayed = stats.reduce((n, s) => n + s.chunksDelayed, 0);
    const stalled = stats.reduce((n, s) => n + s.chunksStalled, 0);
    this.log.record('unshape', `relays have delayed ${delayed} and stalled ${stalled} chunks so far`);
  }

  /** Undoes whatever is in force: partition, links, pauses, crashes, shapes. */
  async healAll(): Promise<void> {
    if (this.cluster.network.cuts.size > 0) await this.heal();
    for (const host of [...this.linksDown]) await this.linkUp(host);
    for (const host of [...this.paused]) this.resume(host);
    for (const host of [...this.killed]) await this.restart(host);
    if (this.shaped) await this.unshape();
  }

  private async shapeHost(host: string, shape: LinkShape): Promise<void> {
    const relays = this.relaysOrThrow();
    await relays.get(host)!.shape('*', shape);
    for (const [other, relay] of relays) if (other !== host) await relay.shape(host, shape);
    this.shaped = true;
  }

  private relaysOrThrow(): HostCluster['relays'] {
    if (this.cluster.relays.size === 0) throw new Error('nemesis: delay and loss need a cluster started with relays: true');
    return this.cluster.relays;
  }
}
