/**
 * The bounds checked before a body or a frame is parsed (issue 16, finding 5): the JSON
 * shape meter (protocol/json-shape.ts) and the msgpack walk of a replication frame
 * (protocol/frame-format.ts). Pure; the live node's side is in hostile-input.test.ts.
 *
 * Figures (time to refuse, heap growth) are printed as `# …` lines, not asserted on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { TERM_HISTORY_ENTRIES_MAX } from '../../cluster/limits.ts';
import { batchShape, encodeBatch } from '../../protocol/batch-codec.ts';
import { crc32c } from '../../protocol/crc32c.ts';
import { ClusterError } from '../../protocol/errors.ts';
import { encodeFrame, encodePreamble, FRAME_SHAPE, FrameDecoder, shapeBreach, type Frame } from '../../protocol/frame-format.ts';
import { JsonShapeMeter } from '../../protocol/json-shape.ts';
import { DEFAULT_LIMITS, FRAME_HISTORY_ENTRIES_MAX, MOVED_OPS_MAX, SNAPSHOT_CHUNK_ENTRIES_MAX } from '../../protocol/limits.ts';

const FRAME_BYTES_MAX = 64 * 1024 * 1024;
const MIB = 1024 * 1024;

describe('the JSON shape meter', () => {
  it('counts exactly the separators and brackets outside strings, however the text is split', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 6 }), fc.array(fc.nat(), { maxLength: 6 }), (text, cuts) => {
      const bytes = Buffer.from(text);
      const { structure, depth } = reference(JSON.parse(text));
      const pieces = split(bytes, cuts);
      assert.equal(meter(pieces, structure, depth), undefined, `${text} fits its own shape`);
      if (structure > 0) assert.deepEqual(meter(pieces, structure - 1, depth), { kind: 'structure', structureMax: structure - 1 }, text);
      if (depth > 0) assert.deepEqual(meter(pieces, structure, depth - 1), { kind: 'depth', depthMax: depth - 1 }, text);
    }), { numRuns: 500 });
  });

  it('lets through the largest valid batch and refuses one operation more', () => {
    const limits = { ...DEFAULT_LIMITS, batchOpsMax: 50 };
    const op = { type: 'put' as const, key: new Uint8Array([1, 2]), value: new Uint8Array([0x22, 0x5c, 0x7b]) };
    const shape = batchShape(limits);
    assert.equal(new JsonShapeMeter(shape).push(encodeBatch(Array.from({ length: 50 }, () => op))), undefined);
    const utf8 = Buffer.from(JSON.stringify({ encoding: 'utf8', ops: Array.from({ length: 50 }, () => ({ type: 'put', key: 'a,b:{', value: '"[]\\' })) }));
    assert.equal(new JsonShapeMeter(shape).push(utf8), undefined, 'brackets and quotes inside strings do not count');
    assert.deepEqual(new JsonShapeMeter(shape).push(encodeBatch(Array.from({ length: 51 }, () => op))), { kind: 'structure', structureMax: shape.structureMax });
  });

  it('refuses 32 MiB of empty objects within its first few hundred kilobytes', (t) => {
    const shape = batchShape(DEFAULT_LIMITS);
    const body = Buffer.from(`{"ops":[${'{},'.repeat(Math.floor(32 * MIB / 3) - 1)}{}]}`);
    const meterOf = new JsonShapeMeter(shape);
    let read = 0;
    const started = performance.now();
    let breach;
    for (; read < body.length && !breach; read += 64 * 1024) breach = meterOf.push(body.subarray(read, read + 64 * 1024));
    t.diagnostic(`32 MiB of {}: refused after ${(read / 1024).toFixed(0)} KiB in ${(performance.now() - started).toFixed(2)} ms`);
    assert.equal(breach?.kind, 'structure');
    assert.ok(read <= 3 * shape.structureMax + 64 * 1024, `read ${read} bytes`);
  });
});

describe('the bound on a replication frame\'s msgpack', () => {
  it('refuses an 8 MB frame of empty maps as CORRUPTION without decoding it', (t) => {
    const count = 8_000_000;
    const payload = new Uint8Array(5 + count).fill(0x80); // fixmap of 0 entries
    payload[0] = 0xdd; // array32
    new DataView(payload.buffer).setUint32(1, count);
    const decoder = new FrameDecoder(FRAME_BYTES_MAX);
    decoder.push(encodePreamble());
    decoder.push(framed(payload));
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    assert.throws(() => decoder.next(), (error: ClusterError) => error.code === 'CORRUPTION' && /holds over \d+ maps and arrays/.test(error.message));
    t.diagnostic(`8 MB frame of empty maps: refused in ${(performance.now() - started).toFixed(1)} ms, heap ${((process.memoryUsage().heapUsed - heapBefore) / MIB).toFixed(1)} MiB`);
  });

  it('decodes the largest valid frames: a full term history, a snapshot chunk of one-byte entries, a migration\'s moved frame of one-byte deletes', () => {
    const history = Array.from({ length: FRAME_HISTORY_ENTRIES_MAX }, (_, i) => ({ term: i + 1, startSeq: i * 1000 }));
    const entries = Array.from({ length: 2 * SNAPSHOT_CHUNK_ENTRIES_MAX }, (_, i) => new Uint8Array([i & 0xff]));
    const frames: Frame[] = [
      { type: 'hello', term: 2 ** 40, leader: '127.0.0.1:7001', plan: 'stream', from: 1, leaderSeq: 2 ** 52, history },
      { type: 'snapshot-chunk', term: 3, entries },
      { type: 'snapshot-end', term: 3, seq: 9, count: SNAPSHOT_CHUNK_ENTRIES_MAX },
      { type: 'moved', term: 3, through: 2 ** 40, ops: Array.from({ length: MOVED_OPS_MAX }, (_, i) => [0, new Uint8Array([i & 0xff]), new Uint8Array(0)]) },
    ];
    const decoder = new FrameDecoder(FRAME_BYTES_MAX);
    decoder.push(encodePreamble());
    for (const frame of frames) decoder.push(encodeFrame(frame));
    for (const frame of frames) assert.equal(decoder.next()?.type, frame.type);
    assert.ok(TERM_HISTORY_ENTRIES_MAX <= FRAME_HISTORY_ENTRIES_MAX, 'a node never keeps more history than a hello frame may carry');
  });

  it('refuses nesting deeper than a frame has, and a container that declares more values than bytes', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
    assert.match(shapeBreach(packr.pack({ type: 'hello', history: [{ term: [[1]] }] }), FRAME_SHAPE) ?? '', /nests deeper than 3/);
    assert.match(shapeBreach(Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0x80]), FRAME_SHAPE) ?? '', /declares \d+ values in 1 bytes/);
    assert.match(shapeBreach(Uint8Array.from([0xc7, 0x01, 0x00, 0x00]), FRAME_SHAPE) ?? '', /is not frame msgpack/);
    assert.match(shapeBreach(Uint8Array.from([0x90, 0x90]), FRAME_SHAPE) ?? '', /1 bytes after its value/);
  });

  it('walks any bytes without throwing, and passes every frame the encoder makes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const breach = shapeBreach(bytes, FRAME_SHAPE);
      assert.ok(breach === undefined || typeof breach === 'string');
    }), { numRuns: 2000 });
    const frameArb: fc.Arbitrary<Frame> = fc.oneof(
      fc.record({ type: fc.constant('heartbeat' as const), term: fc.nat(), leaderSeq: fc.maxSafeNat() }),
      fc.record({ type: fc.constant('snapshot-chunk' as const), term: fc.nat(), entries: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }).map((a) => (a.length % 2 ? a.slice(1) : a)) }),
      fc.record({ type: fc.constant('checkpoint' as const), term: fc.maxSafeNat(), seq: fc.maxSafeNat() }),
    );
    fc.assert(fc.property(frameArb, (frame) => {
      const encoded = encodeFrame(frame);
      assert.equal(shapeBreach(encoded.subarray(8), FRAME_SHAPE), undefined);
    }), { numRuns: 500 });
  });
});

/** What the meter must count for a parsed JSON value: its structure characters and nesting. */
function reference(value: unknown): { structure: number; depth: number } {
  if (Array.isArray(value)) {
    const children = value.map(reference);
    return { structure: 1 + Math.max(value.length - 1, 0) + sum(children), depth: 1 + Math.max(0, ...children.map((c) => c.depth)) };
  }
  if (value !== null && typeof value === 'object') {
    const children = Object.values(value).map(reference);
    return { structure: 1 + children.length + Math.max(children.length - 1, 0) + sum(children), depth: 1 + Math.max(0, ...children.map((c) => c.depth)) };
  }
  return { structure: 0, depth: 0 };
}

function sum(children: { structure: number }[]): number {
  return children.reduce((n, c) => n + c.structure, 0);
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of at) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

function meter(pieces: Buffer[], structureMax: number, depthMax: number) {
  const m = new JsonShapeMeter({ structureMax, depthMax });
  for (const piece of pieces) {
    const breach = m.push(piece);
    if (breach) return breach;
  }
  return undefined;
}

/** A frame around any payload, with a right checksum. */
function framed(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32c(payload), true);
  out.set(payload, 8);
  return out;
}
