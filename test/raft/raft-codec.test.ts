/**
 * The Raft wire codec: every message type round-trips, batches split at the limits, and
 * decoding refuses (BAD_MESSAGE) oversized payloads, impossible counts, forged array headers,
 * bad checksums, unknown versions, bad fields, every single-byte flip and every truncation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import { crc32c } from '../../engine/index.ts';
import {
  decodeMessages, DEFAULT_RAFT_LIMITS, encodeMessageBatches, encodeMessages, EntryType, message, MessageType, validateRaftLimits, type Message,
} from '../../cluster/raft/index.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

function samples(): Message[] {
  return [
    message({ type: MessageType.Vote, from: 'n1', to: 'n2', term: 3, index: 10, logTerm: 2, context: 'transfer' }),
    message({ type: MessageType.VoteResponse, from: 'n2', to: 'n1', term: 3, reject: true }),
    message({ type: MessageType.PreVote, from: 'n1', to: 'n3', term: 4, index: 10, logTerm: 2 }),
    message({ type: MessageType.PreVoteResponse, from: 'n3', to: 'n1', term: 4 }),
    message({
      type: MessageType.Append, from: 'n1', to: 'n2', term: 3, index: 9, logTerm: 2, commit: 8,
      entries: [{ index: 10, term: 3, type: EntryType.Normal, data: bytes('put k v') }, { index: 11, term: 3, type: EntryType.Membership, data: bytes('{}') }],
    }),
    message({ type: MessageType.AppendResponse, from: 'n2', to: 'n1', term: 3, index: 9, reject: true, rejectHint: 7, logTerm: 2 }),
    message({ type: MessageType.Heartbeat, from: 'n1', to: 'n2', term: 3, commit: 11, context: 'n1.42' }),
    message({ type: MessageType.HeartbeatResponse, from: 'n2', to: 'n1', term: 3, context: 'n1.42' }),
    message({ type: MessageType.Snapshot, from: 'n1', to: 'n4', term: 3, snapshot: { index: 100, term: 3, voters: ['n1', 'n2', 'n4'], data: bytes('state') } }),
    message({ type: MessageType.TimeoutNow, from: 'n1', to: 'n2', term: 2 ** 40 }),
  ];
}

/** Messages with their bytes as arrays, so deepEqual compares content, not Buffer vs Uint8Array. */
function plain(messages: readonly Message[]): unknown[] {
  return messages.map((m) => ({
    ...m,
    entries: m.entries.map((e) => ({ ...e, data: [...e.data] })),
    ...(m.snapshot ? { snapshot: { ...m.snapshot, data: [...m.snapshot.data] } } : {}),
  }));
}

/** A payload around arbitrary message bodies, with a correct checksum. */
function forge(bodies: Uint8Array[], count = bodies.length): Uint8Array {
  const total = 9 + bodies.reduce((n, b) => n + 4 + b.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint8(0, 1);
  view.setUint32(1, count, true);
  let at = 9;
  for (const body of bodies) {
    view.setUint32(at, body.length, true);
    out.set(body, at + 4);
    at += 4 + body.length;
  }
  view.setUint32(5, crc32c(out.subarray(9)), true);
  return out;
}

test('every message type round-trips through one payload', () => {
  const messages = samples();
  assert.deepEqual(plain(decodeMessages(encodeMessages(messages))), plain(messages));
  assert.deepEqual(decodeMessages(encodeMessages([])), []);
});

test('batches split at payloadBytesMax and payloadMessagesMax, and a message too large for any payload is refused', () => {
  const limits = validateRaftLimits({ payloadBytesMax: 2048, payloadMessagesMax: 3 });
  const messages = Array.from({ length: 10 }, (_, k) => message({ type: MessageType.Append, from: 'n1', to: 'n2', term: 1, entries: [{ index: k + 1, term: 1, type: EntryType.Normal, data: new Uint8Array(400) }] }));
  const payloads = encodeMessageBatches(messages, limits);
  assert.ok(payloads.every((p) => p.length <= 2048), 'no payload over the byte limit');
  const decoded = payloads.map((p) => decodeMessages(p, limits));
  assert.ok(decoded.every((batch) => batch.length <= 3), 'no payload over the count limit');
  assert.deepEqual(plain(decoded.flat()), plain(messages));
  const huge = message({ type: MessageType.Snapshot, from: 'n1', to: 'n2', term: 1, snapshot: { index: 1, term: 1, voters: [], data: new Uint8Array(4096) } });
  assert.throws(() => encodeMessageBatches([huge], limits), { code: 'INVALID_ARGUMENT' });
});

test('decoding refuses an oversized payload, an impossible message count, a bad checksum or an unknown version', () => {
  const payload = encodeMessages(samples());
  assert.throws(() => decodeMessages(payload, { ...DEFAULT_RAFT_LIMITS, payloadBytesMax: payload.length - 1 }), /exceeds payloadBytesMax/);
  assert.throws(() => decodeMessages(payload, { ...DEFAULT_RAFT_LIMITS, payloadMessagesMax: 3 }), /exceed payloadMessagesMax/);
  assert.throws(() => decodeMessages(forge([], 4000)), /cannot fit/);
  const flipped = payload.slice();
  flipped[20]! ^= 1;
  assert.throws(() => decodeMessages(flipped), /checksum mismatch/);
  const version = payload.slice();
  version[0] = 2;
  assert.throws(() => decodeMessages(version), /version 2/);
});

test('a forged msgpack header declaring billions of elements is refused before anything is allocated', () => {
  const forged = forge([Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])]);
  const started = process.memoryUsage().heapUsed;
  assert.throws(() => decodeMessages(forged), { code: 'BAD_MESSAGE', message: /array of 4294967295 elements exceeds/ });
  assert.ok(process.memoryUsage().heapUsed - started < 64 * 1024 * 1024);
  assert.throws(() => decodeMessages(forge([Uint8Array.from([0xc6, 0x7f, 0xff, 0xff, 0xff])])), /overruns/);
  assert.throws(() => decodeMessages(forge([Uint8Array.from([0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0])])), /extension or unused/);
});

test('more entries in a message than messageEntriesMax are refused', () => {
  const limits = validateRaftLimits({ messageEntriesMax: 4 });
  const entries = Array.from({ length: 20 }, (_, k) => ({ index: k + 1, term: 1, type: EntryType.Normal, data: new Uint8Array(0) }));
  assert.throws(() => decodeMessages(encodeMessages([message({ type: MessageType.Append, from: 'a', to: 'b', term: 1, entries })]), limits), /array of 20 elements exceeds 12/);
});

test('a body of the wrong shape is refused with the field named', () => {
  const pack = (body: unknown[]) => forge([Uint8Array.from(packr.pack(body) as Uint8Array)]);
  assert.throws(() => decodeMessages(pack([99, 'a', 'b', 1, 0, 0, 0, false, 0, '', [], null])), /unknown type 99/);
  assert.throws(() => decodeMessages(pack([1, '', 'b', 1, 0, 0, 0, false, 0, '', [], null])), /bad sender/);
  assert.throws(() => decodeMessages(pack([1, 'a', 'b', -1, 0, 0, 0, false, 0, '', [], null])), /term -1/);
  assert.throws(() => decodeMessages(pack([5, 'a', 'b', 1, 0, 0, 0, false, 0, '', [[1, 1, 7, new Uint8Array(0)]], null])), /entry 0 has a bad field/);
  assert.throws(() => decodeMessages(pack([1, 'a', 'b', 1, 0, 0, 0, false, 0, ''])), /not an array of 12 fields/);
});

test('every single-byte flip and every truncation of a payload is refused', () => {
  const payload = encodeMessages(samples().slice(0, 5));
  for (let i = 0; i < payload.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const damaged = payload.slice();
      damaged[i]! ^= bit;
      assert.throws(() => decodeMessages(damaged), { code: 'BAD_MESSAGE' }, `flip of bit ${bit} at byte ${i}`);
    }
  }
  for (let n = 0; n < payload.length; n++) assert.throws(() => decodeMessages(payload.subarray(0, n)), { code: 'BAD_MESSAGE' }, `truncated to ${n} bytes`);
});

