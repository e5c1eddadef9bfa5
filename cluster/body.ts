/**
 * Reads a request body into memory under a byte limit. A declared Content-Length over the
 * limit is refused before a byte is read; a chunked body is counted as it arrives and
 * refused the moment it passes the limit. A JSON body may also carry a shape bound
 * (protocol/json-shape.ts), checked on every chunk, so a body of a million empty objects is
 * refused after its first few hundred kilobytes rather than parsed whole; and each chunk is
 * reported (`onBytes`) before it is kept, so the server can refuse bodies past its memory
 * budget for bodies in transit (admission.ts).
 */
import type { IncomingMessage } from 'node:http';
import { ClusterError, type ClusterErrorCode } from '../protocol/errors.ts';
import { JsonShapeMeter, type JsonShape, type JsonShapeBreach } from '../protocol/json-shape.ts';

export interface BodyLimits {
  bytesMax: number;
  tooLarge: ClusterErrorCode;
  /** Names the body in messages: "value", "batch body". */
  what: string;
  /** A JSON body's shape bound, and the code its breach is answered with. */
  json?: { shape: JsonShape; tooComplex: ClusterErrorCode; hint: string };
  /** Told each chunk's size before it is kept; throws to refuse the body (e.g. OVERLOADED). */
  onBytes?: (bytes: number) => void;
}

export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Uint8Array> {
  const { bytesMax, tooLarge, what } = limits;
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > bytesMax) {
    return Promise.reject(new ClusterError(tooLarge, `${what} is ${declared} bytes; at most ${bytesMax} bytes`));
  }
  const meter = limits.json && new JsonShapeMeter(limits.json.shape);
  // Events rather than `for await`: the async iterator costs a few microseconds a request,
  // which shows on small PUTs. The listeners are anonymous on purpose: tsx keeps function
  // names, and a named closure costs a defineProperty each time it is made. On refusal the
  // stream is paused and left unread, and the listeners die with the request.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const refuse = (error: unknown) => {
      settled = true;
      req.pause();
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > bytesMax) return refuse(new ClusterError(tooLarge, `${what} is over ${bytesMax} bytes`));
      const breach = meter?.push(chunk);
      if (breach) return refuse(new ClusterError(limits.json!.tooComplex, `${what} ${describeBreach(breach)}${limits.json!.hint}`));
      try {
        limits.onBytes?.(chunk.length);
      } catch (error) {
        return refuse(error);
      }
      chunks.push(chunk);
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

function describeBreach(breach: JsonShapeBreach): string {
  return breach.kind === 'depth'
    ? `nests JSON deeper than ${breach.depthMax} levels`
    : `holds over ${breach.structureMax} JSON separators and brackets`;
}

/** Whether the request declares a body (Content-Length above 0, or any Transfer-Encoding). */
export function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Whether the request still has body bytes the server has not read. */
export function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.readableEnded || req.complete) return false;
  return declaresBody(req);
}
