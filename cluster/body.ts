/**
 * Reads a request body into memory under a byte limit. A declared Content-Length over the
 * limit is refused before a byte is read; a chunked body is counted as it arrives and
 * refused the moment it passes the limit.
 */
import type { IncomingMessage } from 'node:http';
import { ClusterError, type ClusterErrorCode } from '../protocol/errors.ts';

export function readBody(req: IncomingMessage, bytesMax: number, tooLarge: ClusterErrorCode, what: string): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > bytesMax) {
    return Promise.reject(new ClusterError(tooLarge, `${what} is ${declared} bytes; at most ${bytesMax} bytes`));
  }
  // Events rather than `for await`: the async iterator costs a few microseconds a request,
  // which shows on small PUTs. The listeners are anonymous on purpose: tsx keeps function
  // names, and a named closure costs a defineProperty each time it is made. On refusal the
  // stream is paused and left unread, and the listeners die with the request.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total <= bytesMax) {
        chunks.push(chunk);
        return;
      }
      settled = true;
      req.pause();
      reject(new ClusterError(tooLarge, `${what} is over ${bytesMax} bytes`));
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    });
    req.on('error', (error: Error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    // A client that goes away mid-body: what `for await` reported as a premature close.
    req.on('close', () => {
      if (settled || req.complete) return;
      settled = true;
      reject(Object.assign(new Error('request body cut off: the connection closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    });
  });
}

/** Whether the request still has body bytes the server has not read. */
export function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.readableEnded || req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
