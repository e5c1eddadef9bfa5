/**
 * Bearer-token checks for internal and admin routes.
 *
 * Why hash before comparing: crypto.timingSafeEqual needs equal lengths, and comparing lengths
 * first would leak the token's length. SHA-256 digests are always 32 bytes, so the comparison
 * time depends on neither the token nor the guess.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** Whether an Authorization header carries `token`. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = header === undefined ? null : BEARER.exec(header);
  // Always do the comparison, even for a missing header, so the answer's timing says nothing.
  const presented = match ? match[1]! : '';
  const equal = timingSafeEqual(digest(presented), digest(token));
  return equal && match !== null;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
