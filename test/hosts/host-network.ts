/**
 * The harness's network: one namespace per host, joined by veth pairs to a bridge in a
 * namespace of its own, plus one veth from the root namespace (where the test process runs
 * and reaches every host) into that bridge. host-plan.ts draws it.
 *
 * Lifetime: `HostNetwork.create` removes what dead runs left, builds everything, and
 * registers a synchronous cleanup (test/helpers/exit-cleanup.ts), so Ctrl-C, SIGTERM or an
 * uncaught error still removes it; `destroy()` removes it the normal way. Removing kills
 * every process inside the run's namespaces (they are all the harness's: nodes and relays),
 * deletes the root link (which takes its peer with it) and the namespaces. If creation fails
 * half-way, what exists is removed before the error is rethrown.
 *
 * Leftovers: every namespace name carries the owner's pid (`dkvh-<pid>-<run>-…`) and the root
 * link's alias says `distribkv-hosts pid=<pid>`. A run whose owner is no longer alive (killed
 * with SIGKILL, say) is removed by the next run that starts. A pid reused by an unrelated
 * process only makes a leftover live longer; nothing alive is ever removed.
 *
 * Concurrency: one operation at a time per network (the nemesis awaits each); `setCuts` and
 * `setLinkDown` keep `cuts` true to what the kernel holds once they resolve.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onExitCleanup } from '../helpers/exit-cleanup.ts';
import { BRIDGE_LINK, BRIDGE_ROOT_PORT, HOST_LINK, ROOT_LINK_ALIAS, ROOT_LINK_PREFIX, SUBNETS_MAX } from './constants.ts';
import { ip, ipBatch, IpCommandError, ipSync, parseNamespaceList } from './ip-command.ts';
import { ownerOfNamespace, planHosts, runPrefix, type HostPlan, type HostSpec } from './host-plan.ts';
import { neighborCommands, NO_CUTS, type Cuts, type Endpoint } from './reachability.ts';

let runsStarted = 0;

export interface HostNetworkOptions {
  hostCount: number;
  /** Give each host a second address for its node, so a relay can hold the public one. */
  relays?: boolean;
}

export class HostNetwork {
  readonly plan: HostPlan;
  private cutsNow: Cuts = NO_CUTS;
  private readonly down = new Set<string>();
  private unregister: () => void = () => {};
  private destroyed = false;

  private constructor(plan: HostPlan) {
    this.plan = plan;
  }

  /** Builds the network of `hostCount` hosts; the caller must `destroy()` it. */
  static async create(options: HostNetworkOptions): Promise<HostNetwork> {
    await removeDeadRuns();
    const run = ++runsStarted;
    const prefix = runPrefix(process.pid, run);
    const bridgeNamespace = `${prefix}br`;
    // Until the subnet is known, cleanup needs only the prefix: it finds namespaces by name.
    const partial = { prefix, rootLink: undefined as string | undefined };
    const unregister = onExitCleanup(() => removeRunSync(partial.prefix, partial.rootLink));
    try {
      await ip(['netns', 'add', bridgeNamespace]);
      await ipBatch(bridgeNamespace, ['link set dev lo up', `link add ${BRIDGE_LINK} type bridge`, `link set dev ${BRIDGE_LINK} up`]);
      const subnetIndex = await claimSubnet(bridgeNamespace, (link) => (partial.rootLink = link));
      const network = new HostNetwork(planHosts({ ownerPid: process.pid, run, subnetIndex, hostCount: options.hostCount, relays: options.relays ?? false }));
      network.unregister = unregister;
      await network.build();
      return network;
    } catch (error) {
      unregister();
      await removeRun(partial.prefix, partial.rootLink);
      throw error;
    }
  }

  get hosts(): readonly HostSpec[] {
    return this.plan.hosts;
  }

  host(name: string): HostSpec {
    const h = this.plan.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`host network: no host ${JSON.stringify(name)}; hosts are ${this.plan.hosts.map((x) => x.name).join(', ')}`);
    return h;
  }

  /** The directed cuts in force (reachability.ts). */
  get cuts(): Cuts {
    return this.cutsNow;
  }

  /** Makes `cuts` the cuts in force: changes only the neighbor entries that differ. */
  async setCuts(cuts: Cuts): Promise<void> {
    for (const batch of neighborCommands(this.plan, HOST_LINK, cuts, this.cutsNow)) {
      if (batch.namespace !== undefined && this.down.has(batch.namespace)) continue; // restored on link up
      await ipBatch(batch.namespace, batch.commands);
    }
    this.cutsNow = cuts;
  }

  /**
   * Takes host `name`'s card down (it is off the network: its own sends fail at once, others'
   * vanish) or back up. Bringing a link down flushes its neighbor entries, so up restores them.
   */
  async setLinkDown(name: string, down: boolean): Promise<void> {
    const h = this.host(name);
    await ip(['-n', h.namespace, 'link', 'set', 'dev', HOST_LINK, down ? 'down' : 'up']);
    if (down) {
      this.down.add(h.namespace);
      return;
    }
    this.down.delete(h.namespace);
    for (const batch of neighborCommands(this.plan, HOST_LINK, this.cutsNow, undefined, [name as Endpoint])) await ipBatch(batch.namespace, batch.commands);
  }

  /** Spawns `command args…` inside host `name`'s namespace; the returned child is the command itself (ip execs it). */
  spawnIn(name: string, command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.host(name).namespace, command, ...args], options);
  }

  /** Kills what runs inside and removes every namespace and link of the run. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.unregister();
    await removeRun(this.plan.prefix, this.plan.rootLink);
  }

  private async build(): Promise<void> {
    const { plan } = this;
    await ip(['link', 'set', 'dev', plan.rootLink, 'alias', `${ROOT_LINK_ALIAS} pid=${process.pid}`]);
    await ipBatch(undefined, [`link set dev ${plan.rootLink} address ${plan.rootMac}`, `addr add ${plan.rootIp}/24 dev ${plan.rootLink}`, `link set dev ${plan.rootLink} up`]);
    await ipBatch(plan.bridgeNamespace, [`link set dev ${BRIDGE_ROOT_PORT} master ${BRIDGE_LINK} up`]);
    for (const h of plan.hosts) {
      await ip(['netns', 'add', h.namespace]);
      await ip(['link', 'add', h.bridgePort, 'netns', plan.bridgeNamespace, 'type', 'veth', 'peer', 'name', HOST_LINK, 'netns', h.namespace]);
      await ipBatch(plan.bridgeNamespace, [`link set dev ${h.bridgePort} master ${BRIDGE_LINK} up`]);
      const addresses = [...new Set([h.publicIp, h.nodeIp])].map((a) => `addr add ${a}/24 dev ${HOST_LINK}`);
      await ipBatch(h.namespace, ['link set dev lo up', `link set dev ${HOST_LINK} address ${h.mac}`, ...addresses, `link set dev ${HOST_LINK} up`]);
    }
    for (const batch of neighborCommands(plan, HOST_LINK, NO_CUTS)) await ipBatch(batch.namespace, batch.commands);
  }
}

/**
 * Takes a free subnet by creating its root link (the lock: names are unique in the root
 * namespace) with its peer already in the bridge namespace. Reports the link as soon as it
 * exists, so a failure after this still removes it.
 */
async function claimSubnet(bridgeNamespace: string, claimed: (link: string) => void): Promise<number> {
  const start = (process.pid * 31 + runsStarted * 7) % SUBNETS_MAX;
  for (let i = 0; i < SUBNETS_MAX; i++) {
    const index = (start + i) % SUBNETS_MAX;
    const link = `${ROOT_LINK_PREFIX}${index}`;
    try {
      await ip(['link', 'add', link, 'type', 'veth', 'peer', 'name', BRIDGE_ROOT_PORT, 'netns', bridgeNamespace]);
    } catch (error) {
      if (error instanceof IpCommandError && /exists/i.test(error.stderr)) continue;
      throw error;
    }
    claimed(link);
    return index;
  }
  throw new Error(`host network: all ${SUBNETS_MAX} subnets are taken (links ${ROOT_LINK_PREFIX}0…${SUBNETS_MAX - 1} exist)`);
}

/** Namespaces of the run with `prefix`, as listed now. */
async function namespacesOf(prefix: string): Promise<string[]> {
  return parseNamespaceList(await ip(['netns', 'list'])).filter((n) => n.startsWith(prefix));
}

async function removeRun(prefix: string, rootLink: string | undefined): Promise<void> {
  const namespaces = await namespacesOf(prefix);
  for (const ns of namespaces) killAll(parsePids(await ip(['netns', 'pids', ns])));
  if (rootLink !== undefined) await ip(['link', 'del', 'dev', rootLink]).catch(ignoreMissing);
  for (const ns of namespaces) await ip(['netns', 'del', ns]).catch(ignoreMissing);
}

/** The same for exit and signal handlers: synchronous, reports what failed on stderr. */
function removeRunSync(prefix: string, rootLink: string | undefined): void {
  const list = ipSync(['netns', 'list']);
  const namespaces = parseNamespaceList(list.stdout).filter((n) => n.startsWith(prefix));
  for (const ns of namespaces) killAll(parsePids(ipSync(['netns', 'pids', ns]).stdout));
  const failures = [list.error];
  if (rootLink !== undefined) failures.push(ipSync(['link', 'del', 'dev', rootLink]).error);
  for (const ns of namespaces) failures.push(ipSync(['netns', 'del', ns]).error);
  const real = failures.filter((f): f is string => f !== undefined && !isMissing(f));
  if (real.length > 0) process.stderr.write(`host network: cleanup of ${prefix}* failed: ${real.join('; ')}\n`);
}

/**
 * Removes every run whose owner process is gone: its namespaces, their processes, its root
 * link, and its files in the temp directory (a HostCluster's data is named like its namespaces).
 */
export async function removeDeadRuns(): Promise<string[]> {
  const removed: string[] = [];
  // Links first: deleting the bridge namespace would take a root link with it, but later.
  for (const { name, owner } of parseRootLinks(await ip(['-o', 'link', 'show']))) {
    if (isAlive(owner)) continue;
    await ip(['link', 'del', 'dev', name]).catch(ignoreMissing);
    removed.push(name);
  }
  for (const ns of parseNamespaceList(await ip(['netns', 'list']))) {
    const owner = ownerOfNamespace(ns);
    if (owner === undefined || isAlive(owner)) continue;
    killAll(parsePids(await ip(['netns', 'pids', ns]).catch(ignoreMissing)));
    await ip(['netns', 'del', ns]).catch(ignoreMissing);
    removed.push(ns);
  }
  for (const name of readdirSync(os.tmpdir())) {
    const owner = ownerOfNamespace(name);
    if (owner === undefined || isAlive(owner)) continue;
    rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Root links of harness runs with their owner pid, from `ip -o link show` (a link without the alias is left alone). */
export function parseRootLinks(text: string): { name: string; owner: number }[] {
  const out: { name: string; owner: number }[] = [];
  const pattern = new RegExp(`^\\d+: (${ROOT_LINK_PREFIX}\\d+)[@:].*alias ${ROOT_LINK_ALIAS} pid=(\\d+)`);
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (match) out.push({ name: match[1]!, owner: Number(match[2]) });
  }
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parsePids(text: string): number[] {
  return text.split('\n').map((l) => Number(l.trim())).filter((p) => Number.isInteger(p) && p > 0);
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** Another cleanup (or the kernel, taking a veth's peer with it) got there first. */
function isMissing(message: string): boolean {
  return /No such file|Cannot find device|does not exist/i.test(message);
}

function ignoreMissing(error: unknown): string {
  if (error instanceof IpCommandError && isMissing(error.stderr)) return '';
  throw error;
}
