/**
 * Every number and name the host harness uses, in one place (limits last in their names).
 *
 * Addresses: each run takes one /24 of 198.18.0.0/15, the range RFC 2544 sets aside for
 * benchmarking network devices, so it is routed nowhere and exists only on this machine's
 * veth links for as long as the run lasts. A run's subnet is locked by the name of its one
 * link in the root namespace (`dkvh<index>`): link names are unique there, so creating it
 * either takes the subnet or fails with "File exists" and the run tries the next one.
 */

/** Namespaces are named `<prefix><owner pid>-<run number in that process>-<role>`. */
export const NAMESPACE_PREFIX = 'dkvh-';
/** The run's link in the root namespace: `dkvh<subnet index>` (at most 15 characters). */
export const ROOT_LINK_PREFIX = 'dkvh';
/** Written as the root link's alias, followed by `pid=<owner>`; how a later run recognises a dead run's link. */
export const ROOT_LINK_ALIAS = 'distribkv-hosts';

/** Subnets 198.18.0.0/24 … 198.19.255.0/24. */
export const SUBNETS_MAX = 512;
export const HOSTS_MAX = 16;
/** Last octets: the test process (root namespace) .1, host i's public address .10+i, its node's own .110+i. */
export const ROOT_OCTET = 1;
export const HOST_OCTET_BASE = 10;
export const NODE_OCTET_BASE = 110;
/** Every node listens on this port of its own address (hosts have distinct addresses, so one port serves all). */
export const NODE_PORT = 7000;

/** Link names inside the namespaces: the host's card, and the bridge's ports. */
export const HOST_LINK = 'eth0';
export const BRIDGE_LINK = 'br0';
export const BRIDGE_ROOT_PORT = 'root';

/** Locally administered MACs: 02:6b:76:00:00:xx (xx: 01 the test process, 10+i host i); ff is no one. */
export const MAC_PREFIX = '02:6b:76:00:00:';
export const MAC_NOBODY = `${MAC_PREFIX}ff`;

/** How long one `ip` command may take before the harness gives up on it. */
export const IP_COMMAND_TIMEOUT_MS = 20_000;
/** Bound on waits for a node or relay to come up, or to exit. */
export const START_WAIT_MS = 45_000;
export const EXIT_WAIT_MS = 20_000;
export const POLL_MS = 50;

/** The shared secret every harness node gets (protected mode requires one off loopback). */
export const CLUSTER_TOKEN = 'hosts-harness-token-0123456789';
