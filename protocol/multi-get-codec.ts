/**
 * The answer to a multi-get (a POST /batch of gets, protocol/batch-codec.ts): each key's value
 * in request order, `null` for a key with none, all read at one point of the shard's log.
 *
 *   {"encoding": "utf8", "values": ["1", null]}
 *
 * The encoding is the request's: with "utf8" (the default, for curl) a value that is not valid
 * UTF-8 makes the whole answer NOT_UTF8 rather than arriving mangled; "base64" carries any
 * bytes (the client library always asks for it).
 *
 * Pure.
 */
import { ClusterError } from './errors.ts';
import type { Encoding } from './scan-codec.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function encodeMultiGet(values: readonly (Uint8Array | undefined)[], encoding: Encoding): Uint8Array {
  const text = (bytes: Uint8Array | undefined): string | null => {
    if (bytes === undefined) return null;
    if (encoding === 'base64') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    try {
      return utf8.decode(bytes);
    } catch (error) {
      throw new ClusterError('NOT_UTF8', 'a value in this multi-get is not valid UTF-8; ask again with "encoding": "base64"', { cause: error });
    }
  };
  return encoder.encode(JSON.stringify({ encoding, values: values.map(text) }));
}

/** Decodes an answer the client asked for in base64; `count` is how many keys it asked for. Throws BAD_REQUEST. */
export function decodeMultiGet(body: Uint8Array, count: number): (Uint8Array | undefined)[] {
  let doc: { encoding?: unknown; values?: unknown };
  try {
    doc = JSON.parse(utf8.decode(body)) as typeof doc;
  } catch (error) {
    throw new ClusterError('BAD_REQUEST', `multi-get answer is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (doc.encoding !== 'base64' || !Array.isArray(doc.values) || doc.values.length !== count) {
    throw new ClusterError('BAD_REQUEST', `multi-get answer must have encoding "base64" and a values array of ${count}`);
  }
  return doc.values.map((value: unknown) => {
    if (value === null) return undefined;
    if (typeof value !== 'string') throw new ClusterError('BAD_REQUEST', 'multi-get value neither a string nor null');
    return new Uint8Array(Buffer.from(value, 'base64'));
  });
}
