/**
 * A multi-get's values (POST /batch of gets), read through the engine under a bound on the
 * answer: the values it would carry add up to at most `answerBytesMax` (batch_bytes_max) or the
 * whole multi-get is refused ANSWER_TOO_LARGE, before anything is encoded.
 *
 * Why the dedupe: the engine's getMany copies every value it returns, so a ~2 KB request naming
 * one 16 MiB key 255 times would make it copy 4 GiB before any check could run. Each distinct key
 * is read (and copied) once and its value shared by every place that asks for it; the check then
 * stops at the first value that takes the running total past the limit. The bound this leaves:
 * the engine holds one copy of each distinct key's value at once, which is at most the stored
 * data those keys name (a caller must have written it), never more than that for a repeat.
 *
 * Pure apart from the `getMany` it is handed.
 */
import { ClusterError } from '../protocol/errors.ts';

/** Reads the values of `keys` (one snapshot: `getMany` is called once), in request order. */
export async function readMultiGet(
  keys: readonly Uint8Array[],
  getMany: (keys: readonly Uint8Array[]) => Promise<Array<Uint8Array | undefined>>,
  answerBytesMax: number,
): Promise<Array<Uint8Array | undefined>> {
  const { distinct, slots } = dedupe(keys);
  const read = await getMany(distinct);
  const values = new Array<Uint8Array | undefined>(keys.length);
  let bytes = 0;
  for (let i = 0; i < keys.length; i++) {
    const value = read[slots[i]!];
    bytes += value?.length ?? 0;
    if (bytes > answerBytesMax) throw tooLarge(i, keys.length, bytes, answerBytesMax);
    values[i] = value;
  }
  return values;
}

/** The distinct keys, in first-seen order, and for each requested key its place among them. */
function dedupe(keys: readonly Uint8Array[]): { distinct: Uint8Array[]; slots: number[] } {
  const seen = new Map<string, number>();
  const distinct: Uint8Array[] = [];
  const slots = new Array<number>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    // latin1 maps each byte to one char: two keys get one string only if their bytes are equal.
    const name = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    let slot = seen.get(name);
    if (slot === undefined) {
      slot = distinct.push(key) - 1;
      seen.set(name, slot);
    }
    slots[i] = slot;
  }
  return { distinct, slots };
}

function tooLarge(i: number, count: number, bytes: number, answerBytesMax: number): ClusterError {
  return new ClusterError(
    'ANSWER_TOO_LARGE',
    `multi-get's values reach ${bytes} bytes by key ${i} of ${count}, over the answer limit of ${answerBytesMax} bytes (batch_bytes_max); ask for fewer keys at once`,
  );
}
