/**
 * Keys for the HTTP fuzzer and the prefixes that keep its digest meaningful.
 *
 *   seed/…     written before fuzzing; must be byte-for-byte unchanged afterwards
 *   fuzz/m/…   written only by valid requests whose effect the fuzzer predicts (a model)
 *   fuzz/w/…   the target of every other mutating request (wild, malformed); not compared
 *
 * Every generated request with a method other than GET or HEAD names a key that decodes to
 * a fuzz/ key, however its path is percent-encoded, so a mutation that lands anywhere else
 * is a bug in the node. Strings here are "byte strings": one char per byte (latin1), so
 * invalid UTF-8 and raw control bytes can be put on the wire as they are.
 */
import fc from 'fast-check';

export const SEED_PREFIX = 'seed/';
export const MODEL_PREFIX = 'fuzz/m/';
export const WILD_PREFIX = 'fuzz/w/';

/** Bytes a key may be made of: a few letters (so keys collide), '/', '%', space, controls, non-UTF-8. */
const KEY_BYTES = [0x61, 0x62, 0x2f, 0x25, 0x20, 0x00, 0x7f, 0xff, 0xc3, 0xa9, 0x2b, 0x3f, 0x23];

/** Printable characters other than unreserved ones that percent.ts takes literally in a path. */
const LITERAL_SAFE = "!$&'()*+,;=:@/";

export function bytesOf(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** A short key under `prefix`, from a small alphabet so that writes overwrite and deletes hit. */
export function keyArb(prefix: string): fc.Arbitrary<Uint8Array> {
  return fc.array(fc.constantFrom(...KEY_BYTES), { minLength: 1, maxLength: 3 }).map((tail) => new Uint8Array([...bytesOf(prefix), ...tail]));
}

/**
 * Percent-encodes `key` for a path, choosing per byte among the spellings the API accepts:
 * a literal printable character where allowed, `%XX` upper case or lower case.
 */
export function encodedKeyArb(key: Uint8Array): fc.Arbitrary<string> {
  return fc.array(fc.nat(2), { minLength: key.length, maxLength: key.length }).map((styles) =>
    Array.from(key, (b, i) => {
      const style = styles[i]!;
      if (style === 0 && canBeLiteral(b)) return String.fromCharCode(b);
      const text = b.toString(16).padStart(2, '0');
      return `%${style === 2 ? text : text.toUpperCase()}`;
    }).join(''));
}

function canBeLiteral(b: number): boolean {
  const c = String.fromCharCode(b);
  return /^[A-Za-z0-9\-._~]$/.test(c) || LITERAL_SAFE.includes(c);
}

/** A path tail that may be anything: good and bad escapes, raw spaces, controls, UTF-8, '?' and '#'. */
export const junkArb: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { arbitrary: fc.nat(255).map((b) => `%${b.toString(16).padStart(2, '0')}`), weight: 4 },
      { arbitrary: fc.constantFrom('%', '%G', '%1', '%zz', '%%', '%-1', '%+1', '%2', '%%41'), weight: 2 },
      { arbitrary: fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@/'.split('')), weight: 4 },
      { arbitrary: fc.constantFrom(' ', '\t', '\x00', '\x7f', '\xc3\xa9', '\xff', '?', '#', '..', '.', '//', '\\', '"', '<', '{', '|', '^', '`'), weight: 1 },
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

/**
 * A key path for /kv/{key}. Methods that could write get a fuzz/w/ prefix, spelt literally
 * or percent-encoded; reads may also name seeded keys and anything at all.
 */
export function keyPathArb(mayWrite: boolean, seedKeys: readonly Uint8Array[]): fc.Arbitrary<string> {
  const wildPrefix = fc.constantFrom('fuzz/w/', 'fuzz%2Fw%2F', 'fuzz%2fw/', '%66uzz/w/');
  const wild = fc.tuple(wildPrefix, junkArb).map(([p, j]) => p + j);
  const huge = fc.tuple(wildPrefix, fc.constantFrom(8185, 8186, 9000, 30_000), fc.boolean()).map(([p, n, escaped]) => p + (escaped ? '%41' : 'a').repeat(n));
  const options: fc.WeightedArbitrary<string>[] = [
    { arbitrary: wild, weight: 6 },
    { arbitrary: huge, weight: 1 },
  ];
  if (!mayWrite) {
    options.push({ arbitrary: junkArb, weight: 3 });
    if (seedKeys.length > 0) options.push({ arbitrary: fc.constantFrom(...seedKeys).chain(encodedKeyArb), weight: 3 });
  }
  return fc.oneof(...options);
}
