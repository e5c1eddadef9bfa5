/**
 * Keys and values of the resharding benchmark: key i is `k:` and i in 8 digits; a value is its
 * version, a colon, then filler up to the value size, so a read says which write it saw.
 */
const encoder = new TextEncoder();

export function keyOf(i: number): string {
  return `k:${String(i).padStart(8, '0')}`;
}

export function valueOf(key: number, version: number, valueBytes: number): Uint8Array {
  const head = `${version}:${key}:`;
  const out = new Uint8Array(Math.max(valueBytes, head.length));
  out.fill(0x2e);
  out.set(encoder.encode(head));
  return out;
}
