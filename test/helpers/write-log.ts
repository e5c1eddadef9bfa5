/**
 * The write log the crash and corruption tests check recovery against: every write with the
 * sequence number it took, and the state a prefix of them produces.
 */

export interface LoggedWrite {
  seq: number;
  key: string;
  /** undefined for a delete. */
  value: string | undefined;
}

/** The key-value state after applying, in sequence order, every write with seq <= `upTo`. */
export function prefixState(writes: readonly LoggedWrite[], upTo: number): Map<string, string> {
  const state = new Map<string, string>();
  for (const w of [...writes].sort((a, b) => a.seq - b.seq)) {
    if (w.seq > upTo) break;
    if (w.value === undefined) state.delete(w.key);
    else state.set(w.key, w.value);
  }
  return state;
}

/** Entries of a state in bytewise key order (the order the engine iterates in). */
export function sortedEntries(state: ReadonlyMap<string, string>): Array<[string, string]> {
  return [...state].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
