import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEQ_MAX } from '../../engine/internal-key.ts';
import { Block } from '../../engine/sst/block.ts';
import { BlockBuilder } from '../../engine/sst/block-builder.ts';
import { BlockCache } from '../../engine/sst/block-cache.ts';
import { TableCache } from '../../engine/sst/table-cache.ts';
import { TableReader } from '../../engine/sst/table-reader.ts';
import { buildTable, randomEntries, utf8 } from './sst-fixtures.ts';

/** A block of about `bytes` bytes. */
function blockOf(bytes: number): Block {
  const builder = new BlockBuilder(16);
  builder.add(utf8('key-----'), 8, new Uint8Array(bytes));
  return Block.decode(builder.finish().slice(), '/x', 0, 'data block');
}

test('the block cache evicts least recently used blocks to stay within its byte budget', () => {
  const charge = blockOf(1000).charge;
  const cache = new BlockCache(charge * 3);
  cache.insert(1, 0, blockOf(1000));
  cache.insert(1, 1000, blockOf(1000));
  cache.insert(2, 0, blockOf(1000));
  assert.equal(cache.size, 3);
  assert.ok(cache.get(1, 0), 'touching (1, 0) makes (1, 1000) the oldest');
  cache.insert(2, 1000, blockOf(1000));
  assert.equal(cache.size, 3);
  assert.equal(cache.usedBytes, charge * 3);
  assert.equal(cache.get(1, 1000), undefined);
  assert.ok(cache.get(1, 0));
  assert.ok(cache.get(2, 0));
  assert.ok(cache.get(2, 1000));
  assert.equal(cache.evictions, 1);
  assert.deepEqual([cache.hits, cache.misses], [4, 1]);
});

test('the block cache never holds more than its budget, and skips blocks larger than it', () => {
  const cache = new BlockCache(10_000);
  for (let i = 0; i < 100; i++) {
    cache.insert(i % 7, i * 4096, blockOf(100 + ((i * 37) % 900)));
    assert.ok(cache.usedBytes <= 10_000, `used ${cache.usedBytes}`);
  }
  cache.insert(9, 0, blockOf(20_000));
  assert.equal(cache.get(9, 0), undefined);
  const none = new BlockCache(0);
  none.insert(1, 0, blockOf(10));
  assert.equal(none.size, 0);
});

test('evicting a file drops all of its blocks and only its blocks', () => {
  const cache = new BlockCache(1 << 20);
  for (let i = 0; i < 10; i++) {
    cache.insert(1, i * 100, blockOf(50));
    cache.insert(2, i * 100, blockOf(50));
  }
  const before = cache.usedBytes;
  cache.evictFile(1);
  assert.equal(cache.size, 10);
  assert.equal(cache.usedBytes, before / 2);
  assert.equal(cache.get(1, 0), undefined);
  assert.ok(cache.get(2, 900));
  cache.clear();
  assert.deepEqual([cache.size, cache.usedBytes], [0, 0]);
});

test('a table reader caches a block on its second miss and then serves it from the cache', () => {
  const entries = randomEntries(500, 31);
  const built = buildTable(entries, { blockBytes: 1024 });
  const cache = new BlockCache(1 << 20);
  const reader = built.open(cache);
  const blocks = reader.properties.dataBlocks;
  for (let pass = 0; pass < 2; pass++) for (const e of entries) reader.get(e.userKey, SEQ_MAX);
  assert.equal(cache.size, blocks, 'every block was missed twice, so every block is cached');
  assert.ok(reader.stats.blockReads >= blocks * 2, 'a block is read once into scratch, once into the cache');
  const reads = reader.stats.blockReads;
  for (const e of entries) {
    const got = reader.get(e.userKey, SEQ_MAX);
    assert.ok(got, 'every key is found');
  }
  assert.equal(reader.stats.blockReads, reads, 'the third pass reads nothing from the file');
});

test('a point lookup caches only blocks missed twice recently; iterators cache what they read', () => {
  const cache = new BlockCache(1 << 20);
  assert.equal(cache.admitOnMiss(3, 4096), false, 'a first miss is only remembered');
  assert.equal(cache.admitOnMiss(3, 8192), false);
  assert.equal(cache.admitOnMiss(4, 4096), false, 'the same offset in another file is another block');
  assert.equal(cache.admitOnMiss(3, 4096), true, 'a second miss admits');
  assert.equal(cache.admitOnMiss(3, 4096), false, 'admitting forgets the miss');
  assert.equal(cache.deferred, 4);
  assert.equal(new BlockCache(0).admitOnMiss(1, 0), false, 'no cache admits nothing');
  assert.equal(new BlockCache(0).admitOnMiss(1, 0), false);

  const entries = randomEntries(300, 33);
  const built = buildTable(entries, { blockBytes: 1024 });
  const iterated = new BlockCache(1 << 20);
  const reader = built.open(iterated);
  const it = reader.iterator();
  for (it.seekToFirst(); it.valid(); it.next());
  assert.equal(iterated.size, reader.properties.dataBlocks, 'a scan fills the cache on first read');
});

test('values of point lookups that went through the scratch buffer are right, with and without a cache', () => {
  const entries = randomEntries(400, 35, { valueBytesMax: 300 });
  const built = buildTable(entries, { blockBytes: 512 });
  for (const cache of [undefined, new BlockCache(0), new BlockCache(1 << 20)]) {
    const reader = built.open(cache);
    const sorted = [...entries].sort((a, b) => Buffer.compare(a.userKey, b.userKey) || b.seq - a.seq);
    for (const e of entries) {
      const want = sorted.find((x) => Buffer.compare(x.userKey, e.userKey) === 0)!;
      const got = reader.get(e.userKey, SEQ_MAX);
      assert.ok(got);
      assert.deepEqual([got.seq, got.kind, Buffer.from(got.value)], [want.seq, want.kind, Buffer.from(want.value)]);
    }
  }
});

test('the table cache keeps at most its capacity open and closes what it evicts', () => {
  const built = buildTable(randomEntries(50, 41));
  const opened: TableReader[] = [];
  const tables = new TableCache(3, (n) => {
    const reader = TableReader.open(built.fs.openReadable(built.path), n);
    opened.push(reader);
    return reader;
  });
  for (const n of [1, 2, 3, 1, 4]) tables.get(n, utf8('x'), SEQ_MAX);
  assert.equal(tables.size, 3);
  assert.equal(tables.opens, 4);
  assert.equal(tables.hits, 1);
  assert.deepEqual(opened.map((r) => [r.fileNumber, r.closed]), [[1, false], [2, true], [3, false], [4, false]]);
});

test('an acquired reader stays open after eviction until it is released', () => {
  const built = buildTable(randomEntries(50, 42));
  const blocks = new BlockCache(1 << 20);
  const tables = new TableCache(1, (n) => TableReader.open(built.fs.openReadable(built.path), n, blocks), blocks);
  const reader = tables.acquire(5);
  const it = reader.iterator();
  it.seekToFirst();
  assert.ok(blocks.size > 0);
  tables.evict(5);
  assert.equal(blocks.size, 0, 'a deleted file leaves no blocks behind');
  assert.equal(reader.closed, false);
  it.next();
  assert.ok(it.valid());
  tables.release(reader);
  assert.equal(reader.closed, true);
  tables.get(6, utf8('x'), SEQ_MAX);
  tables.close();
  assert.equal(tables.size, 0);
});

/** A block of about `bytes` bytes whose contents live in `buffer` (from BlockCache.allocate). */
function blockIn(buffer: Uint8Array, bytes: number): Block {
  const contents = blockOf(bytes).data;
  buffer.set(contents);
  return Block.decode(buffer.subarray(0, contents.length), '/x', 0, 'data block');
}

test('an evicted block a point lookup admitted gives its buffer to the next one; a block an iterator got never does', () => {
  const first = new BlockCache(0).allocate(1000);
  assert.ok(first.length >= 1000, 'allocate gives at least what was asked');
  const cache = new BlockCache(blockOf(1000).charge + 100);
  const a = cache.allocate(1000);
  cache.insert(1, 0, blockIn(a, 1000), true);
  assert.ok(cache.getForLookup(1, 0), 'a point lookup sees the block');
  cache.insert(1, 4096, blockOf(1000));
  assert.equal(cache.getForLookup(1, 0), undefined, 'the budget holds one block');
  assert.equal(cache.allocate(1000).buffer, a.buffer, 'the evicted buffer is reused');

  const b = cache.allocate(1000);
  cache.insert(2, 0, blockIn(b, 1000), true);
  const held = cache.get(2, 0);
  assert.ok(held, 'an iterator gets the block');
  const before = Buffer.from(held.data);
  cache.insert(2, 4096, blockOf(1000));
  assert.equal(cache.get(2, 0), undefined);
  const next = cache.allocate(1000);
  assert.notEqual(next.buffer, b.buffer, 'a block an iterator got is never recycled');
  next.fill(0xee);
  assert.deepEqual(Buffer.from(held.data), before, 'the iterator still reads its block');
});

test('point lookups through a tiny cache that recycles buffers return the right values', () => {
  const entries = randomEntries(400, 36, { valueBytesMax: 300 });
  const built = buildTable(entries, { blockBytes: 512 });
  const cache = new BlockCache(2048);
  const reader = built.open(cache);
  const newest = new Map<string, (typeof entries)[number]>();
  for (const e of entries) {
    const k = Buffer.from(e.userKey).toString('hex');
    const seen = newest.get(k);
    if (seen === undefined || e.seq > seen.seq) newest.set(k, e);
  }
  for (let pass = 0; pass < 3; pass++) {
    for (const want of newest.values()) {
      const got = reader.get(want.userKey, SEQ_MAX);
      assert.ok(got);
      assert.deepEqual([got.seq, got.kind, Buffer.from(got.value)], [want.seq, want.kind, Buffer.from(want.value)]);
    }
  }
  assert.ok(cache.evictions > 0, 'blocks were evicted, so buffers were recycled');
});
