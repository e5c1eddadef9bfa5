import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { BLOCK_BYTES } from '../../engine/log/log-format.ts';
import { LogWriter } from '../../engine/log/log-writer.ts';

test('frameReused writes the same bytes as frame, across block boundaries and trailers', () => {
  const random = seededRandom(5);
  const fresh = new LogWriter(0);
  const reused = new LogWriter(0);
  let written = 0;
  for (let i = 0; i < 400; i++) {
    // Mostly small records, some spanning blocks, some leaving less than a header at a block's end.
    const length = i % 37 === 0 ? Math.floor(random() * 3 * BLOCK_BYTES) : Math.floor(random() * 300);
    const payload = Uint8Array.from({ length }, () => Math.floor(random() * 256));
    const expected = fresh.frame(payload);
    const got = reused.frameReused(payload);
    assert.deepEqual(got, expected, `record ${i} of ${length} bytes at file offset ${written}`);
    written += expected.length;
  }
});

test('frameReused zero-fills a block trailer even where its buffer held an older record', () => {
  const fresh = new LogWriter(0);
  const reused = new LogWriter(0);
  const dirty = new Uint8Array(2 * BLOCK_BYTES).fill(0xab);
  // Fill the reused buffer with non-zero bytes, then leave 3 bytes at the end of a block.
  for (const payload of [dirty, new Uint8Array(BLOCK_BYTES - ((2 * BLOCK_BYTES + 3 * 7) % BLOCK_BYTES) - 7 - 3).fill(1), new Uint8Array(50).fill(2)]) {
    assert.deepEqual(reused.frameReused(payload), fresh.frame(payload));
  }
});
