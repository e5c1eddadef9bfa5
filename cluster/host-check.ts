/**
 * Whether a request was meant for this node, from its Host and Origin headers: the defence
 * against browsers used as a weapon (issue 16, finding 7). Pure.
 *
 * - DNS rebinding: a page at attacker.example makes its name resolve to 127.0.0.1, then reads
 *   the node's answers as same-origin. The browser still sends `Host: attacker.example`, so
 *   a Host that is a name must be one of this node's: its configured host, the address it
 *   bound, or `localhost`. Any IP literal is accepted: it cannot be rebound, and a node may be
 *   reached at an address that is not its own (a proxy, a NAT, a port forward: the test
 *   harness's proxies on 127.0.0.2 were refused as FOREIGN_HOST). The port is not compared,
 *   for the same reason.
 * - Cross-site requests: any web page can POST to a loopback node; the browser says which
 *   page in `Origin`. The node serves no pages, so an Origin is accepted only when it is this
 *   very node (one of its own names or addresses, not any IP literal, and the port the
 *   connection reached, or the configured one);
 *   `Origin: null` (sandboxed frames, file: pages) is refused. Clients other than browsers
 *   send no Origin.
 */
import { isIP } from 'node:net';
import { ClusterError } from '../protocol/errors.ts';

/** The names a node answers to, lower case, IPv6 without brackets. */
export interface NodeNames {
  /** Host of the configured address (`127.0.0.1`, `node-a.internal`). */
  configuredHost: string;
  /** Port of the configured address. */
  configuredPort: number;
  /** The address the server bound (`127.0.0.1`, `0.0.0.0`), if known. */
  bindHost?: string | undefined;
}

/** Where a connection arrived: `socket.localAddress` and `socket.localPort`. */
export interface LocalEnd {
  address: string | undefined;
  port: number | undefined;
}

/** Throws FOREIGN_HOST or FOREIGN_ORIGIN when the request names another site; a missing Host is the caller's to handle. */
export function checkHostAndOrigin(host: string | undefined, origin: string | undefined, names: NodeNames, local: LocalEnd): void {
  const name = host === undefined ? undefined : hostName(host);
  if (host !== undefined && !(name !== undefined && isIP(name) !== 0) && !isOwnName(name, names, local)) {
    throw new ClusterError('FOREIGN_HOST', `Host ${quote(host)} is not a name of this node; use ${names.configuredHost.includes(':') ? `[${names.configuredHost}]` : names.configuredHost}:${names.configuredPort}, localhost or the IP address you connected to`);
  }
  if (origin !== undefined && !isOwnOrigin(origin, names, local)) {
    throw new ClusterError('FOREIGN_ORIGIN', `Origin ${quote(origin)} is not this node; requests from web pages of other sites are refused`);
  }
}

function isOwnName(name: string | undefined, names: NodeNames, local: LocalEnd): boolean {
  if (name === undefined || name === '') return false;
  return name === 'localhost' || name === names.configuredHost || name === names.bindHost || name === plainAddress(local.address);
}

function isOwnOrigin(origin: string, names: NodeNames, local: LocalEnd): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // `null`, or not a URL at all
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const port = url.port === '' ? (url.protocol === 'http:' ? 80 : 443) : Number(url.port);
  if (port !== local.port && port !== names.configuredPort) return false;
  return isOwnName(stripBrackets(url.hostname), names, local);
}

/** The name part of a Host header (`[::1]:7001` → `::1`, `Node:80` → `node`), or undefined if malformed. */
export function hostName(host: string): string | undefined {
  const text = host.trim().toLowerCase();
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return undefined;
    const rest = text.slice(end + 1);
    if (rest !== '' && !/^:[0-9]{1,5}$/.test(rest)) return undefined;
    return text.slice(1, end);
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return text;
  if (!/^[0-9]{1,5}$/.test(text.slice(colon + 1))) return undefined;
  return text.slice(0, colon);
}

/** An address as the socket reports it, as a Host would name it (`::ffff:127.0.0.1` → `127.0.0.1`). */
function plainAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1).toLowerCase() : host.toLowerCase();
}

function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}
