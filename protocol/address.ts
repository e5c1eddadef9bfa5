/**
 * Node addresses, `host:port`, as written in cluster.toml and sent in `Location` headers.
 * Pure. An address is kept as its canonical string (lower-case host, decimal port) so two
 * spellings of one node compare equal.
 */

export interface Address {
  host: string;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV6_BRACKETED = /^\[[0-9a-f:.]{2,45}\]$/;

/** Parses `host:port`; returns undefined for anything else (the caller words the error). */
export function parseAddress(text: string): Address | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const host = text.slice(0, colon).toLowerCase();
  const portText = text.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  if (!HOSTNAME.test(host) && !IPV6_BRACKETED.test(host)) return undefined;
  return { host, port };
}

export function formatAddress(address: Address): string {
  return `${address.host}:${address.port}`;
}

/** The canonical spelling of `text`, or undefined if it is not an address. */
export function canonicalAddress(text: string): string | undefined {
  const parsed = parseAddress(text);
  return parsed && formatAddress(parsed);
}

/** Whether a host is a loopback address; used to warn when a node advertises one it can't serve. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
