/**
 * Raw HTTP for tests: sends exactly the method, path and headers given (fetch would
 * normalise paths and refuse some requests), never follows redirects, and returns the
 * whole response.
 */
import http from 'node:http';
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON. */
  json(): any;
}

export function rawRequest(
  address: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<RawResponse> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes raw bytes on a fresh connection and returns everything the server sends back. */
export function rawSocket(address: string, data: string): Promise<string> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset after answering; what it sent is still the answer.
      if (chunks.length > 0 && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) resolve(Buffer.concat(chunks).toString('utf8'));
      else reject(error);
    });
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write(data);
  });
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}
