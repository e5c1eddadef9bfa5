/**
 * The replication stream's format (cluster/replication/frame-format.ts): every frame kind
 * survives encoding and decoding whatever the chunking; a flipped byte or a malformed frame is
 * CORRUPTION, never a different frame; a cut-off stream yields nothing for its last frame;
 * and the worked example in docs/replication.md is the bytes the encoder writes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { ClusterError, encodeFrame, encodePreamble, FrameDecoder, type Frame } from '../../cluster/index.ts';
import { REPORT_INTERVAL_MS_MAX } from '../../protocol/limits.ts';
import { REPLICATION_RANGES } from '../../protocol/replication-options.ts';

const FRAME_BYTES_MAX = 1 << 20;
const bytes = (...b: number[]) => Uint8Array.from(b);

const FRAMES: Frame[] = [
  { type: 'hello', term: 3, leader: '127.0.0.1:7001', plan: 'stream', from: 42, leaderSeq: 99, history: [{ term: 1, startSeq: 0 }, { term: 3, startSeq: 40 }] },
  { type: 'batch', term: 3, first: 42, last: 43, batch: bytes(42, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 1, 0x61, 1, 0x62, 0, 1, 0x63) },
  { type: 'heartbeat', term: 3, leaderSeq: 43 },
  { type: 'heartbeat', term: 3, leaderSeq: 43, reportIntervalMs: 250 },
  { type: 'snapshot-begin', term: 3, seq: 43 },
  { type: 'snapshot-chunk', term: 3, entries: [bytes(0x61), bytes(0x62), bytes(0xff, 0), new Uint8Array(0)] },
  { type: 'snapshot-end', term: 3, seq: 43, count: 2 },
  { type: 'checkpoint', term: 3, seq: 43 },
];

function stream(frames: readonly Frame[]): Uint8Array {
  return Buffer.concat([encodePreamble(), ...frames.map(encodeFrame)]);
}

function decodeAll(data: Uint8Array, cuts: number[] = []): Frame[] {
  const decoder = new FrameDecoder(FRAME_BYTES_MAX);
  const out: Frame[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < data.length).sort((a, b) => a - b), data.length]) {
    decoder.push(data.subarray(at, cut));
    at = cut;
    for (let f = decoder.next(); f; f = decoder.next()) out.push(f);
  }
  return out;
}

/** Frames compare with their bytes as plain arrays (the decoder hands back Buffers). */
function plain(frames: readonly Frame[]): unknown {
  return JSON.parse(JSON.stringify(frames, (_, v) => (v instanceof Uint8Array ? [...v] : v?.type === 'Buffer' ? v.data : v)));
}

function corruption(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (error) {
    return error instanceof ClusterError && error.code === 'CORRUPTION';
  }
}

describe('replication frames', () => {
  it('decode to what was encoded, however the stream is cut into chunks', () => {
    const data = stream(FRAMES);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: data.length }), { maxLength: 20 }), (cuts) => {
      assert.deepEqual(plain(decodeAll(data, cuts)), plain(FRAMES));
    }));
    // One byte at a time, the worst case for the decoder's chunk handling.
    assert.deepEqual(plain(decodeAll(data, Array.from({ length: data.length }, (_, i) => i))), plain(FRAMES));
  });

  it('yield nothing for a frame cut short, and the frame once its last byte arrives', () => {
    const data = stream([FRAMES[1]!]);
    const decoder = new FrameDecoder(FRAME_BYTES_MAX);
    decoder.push(data.subarray(0, data.length - 1));
    assert.equal(decoder.next(), undefined);
    decoder.push(data.subarray(data.length - 1));
    assert.equal(decoder.next()?.type, 'batch');
    assert.equal(decoder.next(), undefined);
  });

  it('report every flipped byte as corruption, never as another frame', () => {
    const data = stream([FRAMES[1]!, FRAMES[2]!]);
    for (let i = 0; i < data.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const damaged = data.slice();
        damaged[i]! ^= mask;
        let frames: Frame[] = [];
        const failed = corruption(() => {
          frames = decodeAll(damaged);
        });
        // A flip in a length field may instead make the decoder wait for bytes that never
        // come: then it has decoded only frames before the damage, intact, and not all of them.
        if (failed) continue;
        assert.ok(frames.length < 2, `byte ${i} mask ${mask}: a damaged stream decoded in full`);
        assert.deepEqual(plain(frames), plain([FRAMES[1]!].slice(0, frames.length)), `byte ${i} mask ${mask}`);
      }
    }
  });

  it('refuse a stream without the preamble, an oversize length, and payloads of the wrong shape', () => {
    assert.ok(corruption(() => decodeAll(Buffer.concat([bytes(0x44, 0x4b, 0x56, 0x52, 0x45, 0x50, 0x4c, 0x01), encodeFrame(FRAMES[2]!)]))), 'version 1 (epochs, before terms)');
    const oversize = Buffer.concat([encodePreamble(), bytes(0, 0, 0x20, 0, 0, 0, 0, 0)]);
    assert.ok(corruption(() => decodeAll(oversize)), 'a length over the limit is refused before waiting for it');
    const packr = new Packr({ useRecords: false });
    const shapes: unknown[] = [
      { type: 'batch', term: 1, first: 5, last: 4, batch: bytes(1) },
      { type: 'batch', term: 1, first: 5, last: 5, batch: 'not bytes' },
      // A batch whose own header names another first sequence number, or another op count.
      { type: 'batch', term: 1, first: 5, last: 5, batch: bytes(6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0x61) },
      { type: 'batch', term: 1, first: 5, last: 6, batch: bytes(5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0x61) },
      { type: 'batch', term: 1, first: 5, last: 5, batch: bytes(5, 0, 0, 0) },
      { type: 'snapshot-chunk', term: 1, entries: [bytes(1)] },
      { type: 'heartbeat', term: -1, leaderSeq: 1 },
      { type: 'heartbeat', term: 1, leaderSeq: 1, reportIntervalMs: -5 },
      { type: 'heartbeat', term: 1, leaderSeq: 1, reportIntervalMs: 'soon' },
      // Over the largest interval a leader asks for: a buggy leader would silence the reports.
      { type: 'heartbeat', term: 1, leaderSeq: 1, reportIntervalMs: REPORT_INTERVAL_MS_MAX + 1 },
      { type: 'hello', term: 1, leader: 'x', plan: 'maybe', from: 1, leaderSeq: 1, history: [] },
      { type: 'gossip', term: 1 },
      [1, 2, 3],
    ];
    for (const shape of shapes) {
      const payload = packr.pack(shape);
      const frame = Buffer.alloc(8 + payload.length);
      frame.writeUInt32LE(payload.length, 0);
      frame.writeUInt32LE(crc32cOf(payload), 4);
      payload.copy(frame, 8);
      assert.ok(corruption(() => decodeAll(Buffer.concat([encodePreamble(), frame]))), JSON.stringify(shape));
    }
  });

  it('a heartbeat may ask for the longest report interval a leader ever asks for, the largest heartbeat interval', () => {
    assert.equal(REPORT_INTERVAL_MS_MAX, REPLICATION_RANGES.heartbeatIntervalMs[1]);
    const frame: Frame = { type: 'heartbeat', term: 1, leaderSeq: 1, reportIntervalMs: REPORT_INTERVAL_MS_MAX };
    const decoder = new FrameDecoder(1 << 20);
    decoder.push(Buffer.concat([encodePreamble(), encodeFrame(frame)]));
    assert.deepEqual(decoder.next(), frame);
  });

  it('encode a batch frame to the bytes msgpackr writes, at every integer and bin width boundary', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
    const numbers = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
    const sizes = [0, 1, 0xff, 0x100, 0xffff, 0x10000];
    for (const [i, n] of numbers.entries()) {
      for (const size of sizes) {
        const frame: Frame = { type: 'batch', term: numbers[(i + 3) % numbers.length]!, first: n, last: numbers[(i + 7) % numbers.length]!, batch: new Uint8Array(size).fill(i) };
        const payload: Uint8Array = packr.pack(frame);
        const expected = Buffer.alloc(8 + payload.length);
        expected.writeUInt32LE(payload.length, 0);
        expected.writeUInt32LE(crc32cOf(payload), 4);
        expected.set(payload, 8);
        assert.deepEqual(Buffer.from(encodeFrame(frame)), expected, `term ${frame.term}, first ${n}, last ${frame.last}, ${size} bytes`);
      }
    }
  });

  it('decode a batch frame whose fields come in another order, as any msgpack encoder may write them', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
    const batch = FRAMES[1] as Extract<Frame, { type: 'batch' }>;
    const payload: Uint8Array = packr.pack({ batch: batch.batch, last: batch.last, first: batch.first, term: batch.term, type: 'batch' });
    const framed = Buffer.alloc(8 + payload.length);
    framed.writeUInt32LE(payload.length, 0);
    framed.writeUInt32LE(crc32cOf(payload), 4);
    framed.set(payload, 8);
    const [decoded] = decodeAll(Buffer.concat([encodePreamble(), framed]));
    assert.deepEqual(plain([decoded!]), plain([batch]));
  });

  it('match the worked example in docs/replication.md byte for byte', () => {
    const example = stream([
      { type: 'batch', term: 2, first: 7, last: 8, batch: bytes(7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 2, 0x6b, 0x31, 2, 0x68, 0x69, 0, 2, 0x6b, 0x30) },
    ]);
    assert.equal(exampleBytesInDoc(), Buffer.from(example).toString('hex'));
  });
});

/** CRC-32C written out bit by bit, a second implementation to frame hand-made payloads with. */
function crc32cOf(data: Uint8Array): number {
  let crc = ~0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** The hex bytes at the start of each line of the doc's example block, concatenated. */
function exampleBytesInDoc(): string {
  const doc = readFileSync(new URL('../../docs/replication.md', import.meta.url), 'utf8');
  const block = /<!-- stream-example:begin -->\n```\n([\s\S]*?)```\n<!-- stream-example:end -->/.exec(doc);
  assert.ok(block, 'docs/replication.md has a stream-example block');
  let out = '';
  for (const line of block[1]!.split('\n')) {
    const found = /^((?:[0-9a-f]{2} )*[0-9a-f]{2})(?: {2,}|$)/.exec(line.trimStart());
    if (found) out += found[1]!.replaceAll(' ', '');
  }
  return out;
}
