/**
 * Keys are bytes, and they travel in URL paths and query strings percent-encoded (RFC 3986).
 * Decoding here goes straight to bytes, not through UTF-8 like decodeURIComponent, so any
 * byte string is a valid key (`%FF` included).
 *
 * Rules: `%XX` (two hex digits) is that byte; the other printable ASCII characters stand for
 * themselves, including `+` (it is not a space here) and `/`; a `%` without two hex digits,
 * a control character, a space or a non-ASCII character is BAD_PERCENT_ENCODING.
 * Pure.
 */
import { ClusterError } from './errors.ts';

const HEX = '0123456789ABCDEF';

/** Decodes `text` to bytes; `what` names the field in the error message. */
export function percentDecode(text: string, what: string): Uint8Array {
  const out = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const byte = hexByte(text, i + 1);
      if (byte < 0) {
        throw new ClusterError('BAD_PERCENT_ENCODING', `${what}: "%" at offset ${i} is not followed by two hex digits in ${quoteShort(text)}`);
      }
      out[n++] = byte;
      i += 2;
    } else if (c > 0x20 && c < 0x7f) {
      out[n++] = c;
    } else {
      throw new ClusterError('BAD_PERCENT_ENCODING', `${what}: character code ${c} at offset ${i} must be percent-encoded`);
    }
  }
  return out.subarray(0, n);
}

/** Encodes bytes for a path segment or query value: unreserved characters stay, the rest are %XX. */
export function percentEncode(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const unreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

function hexByte(text: string, at: number): number {
  if (at + 2 > text.length) return -1;
  const hi = hexDigit(text.charCodeAt(at));
  const lo = hexDigit(text.charCodeAt(at + 1));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function quoteShort(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}
