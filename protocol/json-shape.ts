/**
 * A bound on a JSON text's shape, checked as its bytes arrive and before anything parses it:
 * at most `structureMax` structural characters (`{`, `[`, `,`, `:` outside strings) and at
 * most `depthMax` nested containers. JSON.parse builds one object per value, so a body of
 * 32 MiB of `{},` costs seconds and a gigabyte of heap; every value but the first is preceded
 * by a `,` or `:` or opens a container, so counting those characters bounds the values (N
 * values need at least N - 1 of them) without building any.
 *
 * The meter does not validate JSON (JSON.parse does that afterwards, on a body now known to
 * be small in structure); it only refuses early. Bytes are scanned as UTF-8: no byte of a
 * multi-byte character is ASCII, so a quote or backslash byte is always that character.
 *
 * Pure: chunks in, an exception out when a bound is passed.
 */

/** What a bound is and what passing it is called. */
export interface JsonShape {
  /** Most `{ [ , :` outside strings. */
  readonly structureMax: number;
  /** Most containers open at once. */
  readonly depthMax: number;
}

export type JsonShapeBreach =
  | { kind: 'structure'; structureMax: number }
  | { kind: 'depth'; depthMax: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
/** Bytes of a string scanned one by one before a native search takes over. */
const STRING_STRETCH_BYTES = 64;

/**
 * Counts a JSON text's structure across chunks. `push` returns the first bound passed, or
 * undefined; once it has returned a breach the meter is spent.
 */
export class JsonShapeMeter {
  private structure = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly shape: JsonShape) {}

  push(chunk: Uint8Array): JsonShapeBreach | undefined {
    const { structureMax, depthMax } = this.shape;
    // Inside a string only a quote or a backslash matters. A short stretch is scanned byte by
    // byte; past STRING_STRETCH_BYTES without one, a native search jumps to the next (its
    // answer kept until passed), so long values cost little and dense escapes stay linear.
    let nextQuote = -1;
    let nextBackslash = -1;
    for (let i = 0; i < chunk.length; i++) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          continue;
        }
        const stop = Math.min(chunk.length, i + STRING_STRETCH_BYTES);
        while (i < stop && chunk[i] !== QUOTE && chunk[i] !== BACKSLASH) i++;
        if (i === stop && stop < chunk.length) {
          if (nextQuote < i) nextQuote = indexOrEnd(chunk, QUOTE, i);
          if (nextBackslash < i) nextBackslash = indexOrEnd(chunk, BACKSLASH, i);
          i = Math.min(nextQuote, nextBackslash);
        }
        if (i === chunk.length) break;
        if (chunk[i] === BACKSLASH) this.escaped = true;
        else this.inString = false;
        continue;
      }
      const c = chunk[i]!;
      if (c === QUOTE) {
        this.inString = true;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++this.depth > depthMax) return { kind: 'depth', depthMax };
        if (++this.structure > structureMax) return { kind: 'structure', structureMax };
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        this.depth--;
      } else if (c === COMMA || c === COLON) {
        if (++this.structure > structureMax) return { kind: 'structure', structureMax };
      }
    }
    return undefined;
  }
}

function indexOrEnd(chunk: Uint8Array, byte: number, from: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}
