/**
 * The write log the crash and corruption tests check recovery against: every write with the
 * sequence number it took, and the state a prefix of them produces.
 */

export interface LoggedWrite {
  seq: number;
  key: string;
  /** undefined for a delete (and a range delete). */
  value: string | undefined;
  /** Set for a range delete, which deletes every key k with key <= k < end. */
  end?: string;
}

/** The key-value state after applying, in sequence order, every write with seq <= `upTo`. */
export function prefixState(writes: readonly LoggedWrite[], upTo: number): Map<string, string> {
  const state = new Map<string, string>();
  for (const w of [...writes].sort((a, b) => a.seq - b.seq)) {
    if (w.seq > upTo) break;
    if (w.end !== undefined) {
      for (const k of [...state.keys()]) if (compareKeys(k, w.key) >= 0 && compareKeys(k, w.end) < 0) state.delete(k);
    } else if (w.value === undefined) state.delete(w.key);
    else state.set(w.key, w.value);
  }
  return state;
}

/** Bytewise order of two keys' UTF-8 bytes (the engine's key order). */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Entries of a state in bytewise key order (the order the engine iterates in). */
export function sortedEntries(state: ReadonlyMap<string, string>): Array<[string, string]> {
  return [...state].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
