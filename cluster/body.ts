/**
 * Reads a request body into memory under a byte limit. A declared Content-Length over the
 * limit is refused before a byte is read; a chunked body is counted as it arrives and
 * refused the moment it passes the limit.
 */
import type { IncomingMessage } from 'node:http';
import { ClusterError, type ClusterErrorCode } from './errors.ts';

export async function readBody(req: IncomingMessage, bytesMax: number, tooLarge: ClusterErrorCode, what: string): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > bytesMax) {
    throw new ClusterError(tooLarge, `${what} is ${declared} bytes; at most ${bytesMax} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > bytesMax) throw new ClusterError(tooLarge, `${what} is over ${bytesMax} bytes`);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks, total);
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** Whether the request still has body bytes the server has not read. */
export function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.readableEnded || req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
