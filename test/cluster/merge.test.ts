/**
 * The client's merge of per-shard scans (net/merge.ts): one stream in bytewise key order, a key
 * two shards both show (a move between metadata versions) yielded once, the limit honoured.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { mergeSorted } from '../../net/merge.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

async function* shard(...keys: string[]): AsyncGenerator<[Uint8Array, Uint8Array]> {
  for (const key of keys) yield [bytes(key), bytes(`v-${key}`)];
}

async function keysOf(stream: AsyncGenerator<[Uint8Array, Uint8Array]>): Promise<string[]> {
  const out: string[] = [];
  for await (const [key] of stream) out.push(Buffer.from(key).toString());
  return out;
}

it('merges shards into bytewise order, yielding a key two shards show only once', async () => {
  const merged = await keysOf(mergeSorted([shard('a', 'd', 'moving', 'z'), shard('b', 'moving', 'y'), shard('c', 'e')]));
  assert.deepEqual(merged, ['a', 'b', 'c', 'd', 'e', 'moving', 'y', 'z']);
});

it('stops at the limit, counting a shared key once', async () => {
  assert.deepEqual(await keysOf(mergeSorted([shard('a', 'b'), shard('a', 'c')], 2)), ['a', 'b']);
});
