/**
 * Free TCP ports on 127.0.0.1 for test nodes, chosen below the kernel's ephemeral range
 * (`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 by default) and checked by listening
 * on each, all at once, then closing.
 *
 * Why not port 0 (the kernel's pick): that hands out ports from the ephemeral range, which every
 * outgoing connection on the machine also draws its local port from. Between our close and the
 * node's bind, any client socket of any test running beside this one could take the port; in CI
 * a node then failed with EADDRINUSE. Below the range only another listener can take it, so each
 * pick is random (two test files running at once rarely draw the same port) and never repeats
 * in this process. Where the range cannot be read, or leaves too little below it, port 0 it is.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

const LOWEST = 10_000;
const ATTEMPTS_PER_PORT = 50;
const handedOut = new Set<number>();

export async function freePorts(count: number): Promise<number[]> {
  const below = ephemeralLow();
  if (below === undefined || below - LOWEST < 1_000) return kernelPicks(count);
  const ports: number[] = [];
  const servers: net.Server[] = [];
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt >= count * ATTEMPTS_PER_PORT) throw new Error(`freePorts: no free port below ${below} after ${attempt} tries`);
      const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
      if (handedOut.has(port)) continue;
      const server = await tryListen(port);
      if (!server) continue;
      servers.push(server);
      ports.push(port);
      handedOut.add(port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  return ports;
}

function ephemeralLow(): number | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : undefined;
  } catch {
    return undefined;
  }
}

function tryListen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

async function kernelPicks(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => tryListen(0)));
  const ports = servers.map((s) => (s!.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s!.close(() => resolve()))));
  return ports;
}
