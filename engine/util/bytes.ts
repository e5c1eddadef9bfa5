/**
 * Byte helpers shared by every format module: key coercion and bytewise comparison.
 * Pure functions; no I/O.
 */
import { InvalidArgumentError } from '../errors.ts';

const encoder = new TextEncoder();

/** Keys and values are bytes or strings (UTF-8); anything else is an INVALID_ARGUMENT error. */
export function toBytes(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return encoder.encode(value);
  throw new InvalidArgumentError(`${what} must be a Uint8Array or a string, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * Bytewise comparison, like memcmp followed by a length tie-break.
 * A JS loop beats Buffer.compare for the short keys this engine sees (no native call).
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Concatenates byte arrays into one fresh array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
