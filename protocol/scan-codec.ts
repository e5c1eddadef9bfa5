/**
 * The GET /kv (scan) response: one page of this shard's entries in bytewise key order.
 *
 *   {"encoding": "utf8", "entries": [{"key": "a", "value": "1"}], "more": false}
 *
 * `more: true` means the page stopped at its entry or byte limit and the caller should ask
 * again with `gt=` the last key. With `encoding=utf8` (the default, for curl) a key or value
 * that is not valid UTF-8 makes the whole page a NOT_UTF8 error rather than arriving mangled;
 * `encoding=base64` carries any bytes (the client library always asks for it).
 *
 * Pure.
 */
import { ClusterError } from './errors.ts';

export interface ScanPage {
  entries: [Uint8Array, Uint8Array][];
  more: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** How keys and values are written in JSON: as UTF-8 text, or base64 for any bytes. */
export type Encoding = 'utf8' | 'base64';

export function encodeScanPage(page: ScanPage, encoding: Encoding): Uint8Array {
  const text = (bytes: Uint8Array, what: string): string => {
    if (encoding === 'base64') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    try {
      return utf8.decode(bytes);
    } catch (error) {
      throw new ClusterError('NOT_UTF8', `a ${what} in this page is not valid UTF-8; ask again with encoding=base64`, { cause: error });
    }
  };
  const entries = page.entries.map(([key, value]) => ({ key: text(key, 'key'), value: text(value, 'value') }));
  return encoder.encode(JSON.stringify({ encoding, entries, more: page.more }));
}

/** Decodes a page the client asked for with encoding=base64. Throws BAD_REQUEST on a malformed page. */
export function decodeScanPage(body: Uint8Array): ScanPage {
  let doc: { encoding?: unknown; entries?: unknown; more?: unknown };
  try {
    doc = JSON.parse(utf8.decode(body)) as typeof doc;
  } catch (error) {
    throw new ClusterError('BAD_REQUEST', `scan page is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (doc.encoding !== 'base64' || !Array.isArray(doc.entries) || typeof doc.more !== 'boolean') {
    throw new ClusterError('BAD_REQUEST', 'scan page must have encoding "base64", an entries array and a boolean more');
  }
  const entries = doc.entries.map((e: { key?: unknown; value?: unknown }): [Uint8Array, Uint8Array] => {
    if (typeof e?.key !== 'string' || typeof e.value !== 'string') throw new ClusterError('BAD_REQUEST', 'scan entry without string key and value');
    return [new Uint8Array(Buffer.from(e.key, 'base64')), new Uint8Array(Buffer.from(e.value, 'base64'))];
  });
  return { entries, more: doc.more };
}
