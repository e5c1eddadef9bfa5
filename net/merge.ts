/**
 * Merges sorted streams of [key, value] into one stream sorted by key (bytewise). Shards hold
 * disjoint keys, except for a moment during a migration's move, when the giver and the receiver
 * may route by two metadata versions and both show a key: the merge then yields it once (the
 * first stream's copy; both hold the same value, since neither takes writes to it then). A
 * linear pick of the smallest head is enough: there are as many streams as shards, a handful.
 */

type Entry = [Uint8Array, Uint8Array];

export async function* mergeSorted(streams: AsyncGenerator<Entry>[], limit = Infinity): AsyncGenerator<Entry> {
  const heads: (Entry | undefined)[] = await Promise.all(streams.map(async (s) => (await s.next()).value ?? undefined));
  try {
    for (let yielded = 0; yielded < limit; yielded++) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head && (best < 0 || compare(head[0], heads[best]![0]) < 0)) best = i;
      }
      if (best < 0) return;
      const entry = heads[best]!;
      yield entry;
      heads[best] = (await streams[best]!.next()).value ?? undefined;
      for (let i = 0; i < heads.length; i++) {
        if (heads[i] && compare(heads[i]![0], entry[0]) === 0) heads[i] = (await streams[i]!.next()).value ?? undefined;
      }
    }
  } finally {
    // Stop the other shards' paging when the caller stops early or a stream fails.
    await Promise.allSettled(streams.map((s) => s.return(undefined)));
  }
}

function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
