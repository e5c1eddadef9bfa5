/**
 * Who can send to whom on the harness's network, and the neighbor entries that make it so.
 * Pure: cuts in, `ip neigh` commands out.
 *
 * How a cut is made: every endpoint (each host, and the test process in the root namespace,
 * named `client`) knows every other endpoint's MAC from a permanent neighbor (ARP) entry, set
 * when the network is built, so nothing is ever resolved on the wire. Cutting `a -> b` points
 * a's entries for b's addresses at a MAC no one has: a's frames to b still leave, the bridge
 * floods them (it has never seen that MAC), and every card drops them. A silent loss, exactly
 * as on a real network (the sender learns nothing; TCP retransmits until it heals or times
 * out), and directed: b's frames to a still arrive. Healing points the entries back.
 *
 * Why not something else: this machine has no netem, no iptables or nftables, no tc
 * classifiers and no bridge VLAN filtering; blackhole and prohibit routes exist but answer
 * the sender at once with an error, which is a refusal, not a partition.
 *
 * A one-way cut under TCP: a connection needs both directions, so `a -> b` cut breaks a's
 * connections to b (a's SYNs vanish) and b's to a (a's SYN-ACKs vanish) alike, but b's data
 * already on an open connection still reaches a, and which side notices first differs.
 */
import { MAC_NOBODY } from './constants.ts';
import { ipsOf, type HostPlan } from './host-plan.ts';

/** A host's name (`h0`, …) or `client`: the test process, in the root namespace. */
export type Endpoint = string;
export const CLIENT: Endpoint = 'client';

/** Directed cuts, each `from>to`. */
export type Cuts = ReadonlySet<string>;

export const NO_CUTS: Cuts = new Set();

function cut(from: Endpoint, to: Endpoint): string {
  return `${from}>${to}`;
}

/** `host` can neither send to nor hear from any of `others` (which may include `client`). */
export function isolate(host: Endpoint, others: readonly Endpoint[]): Cuts {
  return split([[host], others.filter((o) => o !== host)]);
}

/** No two endpoints in different groups can reach each other, either way. */
export function split(groups: readonly (readonly Endpoint[])[]): Cuts {
  const out = new Set<string>();
  groups.forEach((group, g) => {
    for (const other of groups.slice(g + 1)) {
      for (const a of group) for (const b of other) out.add(cut(a, b)).add(cut(b, a));
    }
  });
  return out;
}

/** `left` and `right` cannot reach each other; `middle` reaches both (Jepsen's "bridge"). */
export function bridge(left: readonly Endpoint[], middle: Endpoint, right: readonly Endpoint[]): Cuts {
  return split([left.filter((e) => e !== middle), right.filter((e) => e !== middle)]);
}

/** `from` cannot send to `to`; `to` still can send to `from`. */
export function oneWay(from: Endpoint, to: Endpoint): Cuts {
  return new Set([cut(from, to)]);
}

export function union(...all: Cuts[]): Cuts {
  return new Set(all.flatMap((c) => [...c]));
}

export function canSend(cuts: Cuts, from: Endpoint, to: Endpoint): boolean {
  return !cuts.has(cut(from, to));
}

/** `h0 x h1` for a two-way cut, `h0 -> h2` for a one-way one; `none` when nothing is cut. */
export function describeCuts(cuts: Cuts): string {
  const parts: string[] = [];
  for (const c of [...cuts].sort()) {
    const [from, to] = c.split('>') as [string, string];
    if (cuts.has(cut(to, from))) {
      if (from < to) parts.push(`${from} x ${to}`);
    } else {
      parts.push(`${from} -> ${to}`);
    }
  }
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** Neighbor commands for one namespace (`undefined`: the root namespace), for `ip -batch`. */
export interface NeighborCommands {
  namespace: string | undefined;
  commands: string[];
}

interface EndpointInfo {
  namespace: string | undefined;
  link: string;
  ips: string[];
  mac: string;
}

function endpointsOf(plan: HostPlan, hostLink: string): Map<Endpoint, EndpointInfo> {
  const out = new Map<Endpoint, EndpointInfo>();
  out.set(CLIENT, { namespace: undefined, link: plan.rootLink, ips: [plan.rootIp], mac: plan.rootMac });
  for (const h of plan.hosts) out.set(h.name, { namespace: h.namespace, link: hostLink, ips: ipsOf(h), mac: h.mac });
  return out;
}

/**
 * The entries that change from `before` to `after` (all of them when `before` is undefined),
 * limited to senders in `only` when given (to restore a host whose link went down and up).
 */
export function neighborCommands(plan: HostPlan, hostLink: string, after: Cuts, before?: Cuts, only?: readonly Endpoint[]): NeighborCommands[] {
  const endpoints = endpointsOf(plan, hostLink);
  const out: NeighborCommands[] = [];
  for (const [from, sender] of endpoints) {
    if (only && !only.includes(from)) continue;
    const commands: string[] = [];
    for (const [to, receiver] of endpoints) {
      if (to === from) continue;
      const reachable = canSend(after, from, to);
      if (before && canSend(before, from, to) === reachable) continue;
      const mac = reachable ? receiver.mac : MAC_NOBODY;
      for (const ip of receiver.ips) commands.push(`neigh replace ${ip} lladdr ${mac} dev ${sender.link} nud permanent`);
    }
    if (commands.length > 0) out.push({ namespace: sender.namespace, commands });
  }
  return out;
}
