/**
 * Free TCP ports on 127.0.0.1 for test nodes: listen on port 0 (the kernel picks), note the
 * port, close. All listeners are open at once, so the ports are distinct. Another process
 * could take a port between close and the node's bind; on a test machine that is rare, and
 * the node then fails loudly (EADDRINUSE), never silently.
 */
import net from 'node:net';

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<net.Server>((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
      })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}
