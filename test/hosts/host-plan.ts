/**
 * The names and addresses of one run of the host harness, computed before anything exists:
 * a pure function of (owner pid, run number, subnet index, host count).
 *
 * Topology (every box a network namespace; `═` a veth pair):
 *
 *   root namespace (the test process)          bridge namespace <prefix>-br
 *     dkvh<k>  198.18.k.1  ════════════════════ root ─┐
 *                                                      br0 (a Linux bridge, no address)
 *   host namespace <prefix>-h0                        │
 *     eth0  198.18.k.10 (+ .110 with a relay) ════ h0 ─┤
 *   host namespace <prefix>-h1                        │
 *     eth0  198.18.k.11 (+ .111)               ════ h1 ─┘
 *
 * (k past 255 continues in 198.19.) Host i's public address (.10+i) is the one in the cluster
 * config; without a relay its node binds it, with one the relay listens there and the node
 * binds .110+i (relay.ts). Nothing is added to the root namespace but the one link and the
 * route its address brings.
 */
import assert from 'node:assert/strict';
import {
  HOST_OCTET_BASE, HOSTS_MAX, MAC_PREFIX, NAMESPACE_PREFIX, NODE_OCTET_BASE, NODE_PORT, ROOT_LINK_PREFIX, ROOT_OCTET, SUBNETS_MAX,
} from './constants.ts';

export interface HostSpec {
  index: number;
  /** `h0`, `h1`, …: how the harness, the nemesis and logs name the host. */
  name: string;
  namespace: string;
  /** The bridge's port for this host (in the bridge namespace). */
  bridgePort: string;
  mac: string;
  /** The address in the cluster config. */
  publicIp: string;
  /** Where the node listens: publicIp, or the second address when a relay holds publicIp. */
  nodeIp: string;
  /** `publicIp:NODE_PORT`: the node's address in the config and for clients. */
  address: string;
}

export interface HostPlan {
  ownerPid: number;
  run: number;
  /** Prefix of every namespace of the run. */
  prefix: string;
  subnetIndex: number;
  bridgeNamespace: string;
  rootLink: string;
  rootIp: string;
  rootMac: string;
  relays: boolean;
  hosts: HostSpec[];
}

/** The plan of a run; pure. */
export function planHosts(options: { ownerPid: number; run: number; subnetIndex: number; hostCount: number; relays: boolean }): HostPlan {
  const { ownerPid, run, subnetIndex, hostCount, relays } = options;
  assert.ok(Number.isInteger(hostCount) && hostCount >= 1 && hostCount <= HOSTS_MAX, `host plan: 1 to ${HOSTS_MAX} hosts, got ${hostCount}`);
  assert.ok(Number.isInteger(subnetIndex) && subnetIndex >= 0 && subnetIndex < SUBNETS_MAX, `host plan: subnet index in [0, ${SUBNETS_MAX}), got ${subnetIndex}`);
  const prefix = runPrefix(ownerPid, run);
  const hosts = Array.from({ length: hostCount }, (_, index): HostSpec => {
    const publicIp = subnetIp(subnetIndex, HOST_OCTET_BASE + index);
    return {
      index,
      name: `h${index}`,
      namespace: `${prefix}h${index}`,
      bridgePort: `h${index}`,
      mac: macOf(HOST_OCTET_BASE + index),
      publicIp,
      nodeIp: relays ? subnetIp(subnetIndex, NODE_OCTET_BASE + index) : publicIp,
      address: `${publicIp}:${NODE_PORT}`,
    };
  });
  return {
    ownerPid, run, prefix, subnetIndex, relays, hosts,
    bridgeNamespace: `${prefix}br`,
    rootLink: `${ROOT_LINK_PREFIX}${subnetIndex}`,
    rootIp: subnetIp(subnetIndex, ROOT_OCTET),
    rootMac: macOf(ROOT_OCTET),
  };
}

/** `dkvh-<pid>-<run>-`: every namespace of the run starts with it. */
export function runPrefix(ownerPid: number, run: number): string {
  return `${NAMESPACE_PREFIX}${ownerPid}-${run}-`;
}

/** The owner pid in a namespace name of some run, or undefined if the name is not the harness's. */
export function ownerOfNamespace(name: string): number | undefined {
  const match = new RegExp(`^${NAMESPACE_PREFIX}(\\d+)-\\d+-`).exec(name);
  return match ? Number(match[1]) : undefined;
}

/** The IPs host `host` answers on (both, with a relay): what a cut towards it must cover. */
export function ipsOf(host: HostSpec): string[] {
  return host.nodeIp === host.publicIp ? [host.publicIp] : [host.publicIp, host.nodeIp];
}

export function subnetIp(subnetIndex: number, octet: number): string {
  return `198.${18 + Math.floor(subnetIndex / 256)}.${subnetIndex % 256}.${octet}`;
}

function macOf(octet: number): string {
  return MAC_PREFIX + octet.toString(16).padStart(2, '0');
}
