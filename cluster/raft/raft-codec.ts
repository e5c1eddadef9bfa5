/**
 * The Raft messages' wire format: many messages in one payload, each a msgpack array. Pure.
 *
 *   payload  := version:u8 count:u32le checksum:u32le message×count     (header: 9 bytes)
 *   message  := length:u32le body[length]
 *   body     := msgpack [type, from, to, term, logTerm, index, commit, reject, rejectHint,
 *                        context, entries, snapshot]
 *   entries  := [[index, term, type, data:bin], …]
 *   snapshot := nil | [index, term, [voter, …], data:bin]
 *   checksum := crc32c(every byte after the header)                      Castagnoli
 *
 * Decoding is bounded before anything is allocated: the payload's size (payloadBytesMax), the
 * message count (payloadMessagesMax, and 4 bytes per message must be there), each length
 * against what is left, and each body's msgpack headers (msgpack-bounds.ts: counts against
 * bytes, entries per message ≤ messageEntriesMax). Then every field's type and range is
 * checked. Anything wrong is BAD_MESSAGE; the transport drops the payload (Raft tolerates loss).
 *
 * Version 1. A change of layout gets a new version byte; a decoder refuses versions it does not know.
 */
import { Packr } from 'msgpackr';
import { crc32c } from '../../engine/index.ts';
import { isNodeId } from './membership.ts';
import { DEFAULT_RAFT_LIMITS, type RaftLimits } from './raft-config.ts';
import { RaftError } from './raft-errors.ts';
import { checkMsgpackBounds } from './msgpack-bounds.ts';
import { MESSAGE_TYPE_MAX, type Entry, type EntryType, type Message, type MessageType, type Snapshot } from './raft-types.ts';

export const RAFT_CODEC_VERSION = 1;
export const PAYLOAD_HEADER_BYTES = 9;
const MESSAGE_FIELDS = 12;
const DEPTH_MAX = 4;

type CodecLimits = Pick<RaftLimits, 'payloadBytesMax' | 'payloadMessagesMax' | 'messageEntriesMax'>;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

function toBody(m: Message): unknown[] {
  const entries = m.entries.map((e) => [e.index, e.term, e.type, e.data]);
  const snapshot = m.snapshot ? [m.snapshot.index, m.snapshot.term, m.snapshot.voters, m.snapshot.data] : null;
  return [m.type, m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.reject, m.rejectHint, m.context, entries, snapshot];
}

/**
 * Encodes `messages` as one payload (any destinations; the transport usually groups by one).
 *
 * @example
 * ```ts
 * const payload = encodeMessages(readyMessagesFor('n2'));   // one HTTP body to n2
 * group.receive(decodeMessages(body, limits));                // on n2: BAD_MESSAGE if malformed
 * ```
 */
export function encodeMessages(messages: readonly Message[]): Uint8Array {
  const bodies = messages.map((m) => packr.pack(toBody(m)) as Uint8Array);
  const total = PAYLOAD_HEADER_BYTES + bodies.reduce((n, b) => n + 4 + b.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint8(0, RAFT_CODEC_VERSION);
  view.setUint32(1, messages.length, true);
  let at = PAYLOAD_HEADER_BYTES;
  for (const body of bodies) {
    view.setUint32(at, body.length, true);
    out.set(body, at + 4);
    at += 4 + body.length;
  }
  view.setUint32(5, crc32c(out.subarray(PAYLOAD_HEADER_BYTES)), true);
  return out;
}

/**
 * Splits `messages` into payloads of at most `limits.payloadBytesMax` bytes and
 * `payloadMessagesMax` messages. A single message too large for any payload (a snapshot over
 * the limit) is an INVALID_ARGUMENT error: the receiver would refuse it.
 */
export function encodeMessageBatches(messages: readonly Message[], limits: CodecLimits = DEFAULT_RAFT_LIMITS): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  let batch: Message[] = [];
  let bytes = PAYLOAD_HEADER_BYTES;
  for (const m of messages) {
    const size = 4 + (packr.pack(toBody(m)) as Uint8Array).length;
    if (PAYLOAD_HEADER_BYTES + size > limits.payloadBytesMax) {
      throw new RaftError('INVALID_ARGUMENT', `raft codec: a message of ${size} bytes (${m.from}->${m.to}) exceeds payloadBytesMax (${limits.payloadBytesMax})`);
    }
    if (batch.length > 0 && (bytes + size > limits.payloadBytesMax || batch.length >= limits.payloadMessagesMax)) {
      payloads.push(encodeMessages(batch));
      batch = [];
      bytes = PAYLOAD_HEADER_BYTES;
    }
    batch.push(m);
    bytes += size;
  }
  if (batch.length > 0) payloads.push(encodeMessages(batch));
  return payloads;
}

function bad(why: string): RaftError {
  return new RaftError('BAD_MESSAGE', `raft codec: ${why}`);
}

/** Decodes a payload; BAD_MESSAGE (naming what is wrong) on anything malformed or over a limit. */
export function decodeMessages(payload: Uint8Array, limits: CodecLimits = DEFAULT_RAFT_LIMITS): Message[] {
  if (payload.length > limits.payloadBytesMax) throw bad(`payload of ${payload.length} bytes exceeds payloadBytesMax (${limits.payloadBytesMax})`);
  if (payload.length < PAYLOAD_HEADER_BYTES) throw bad(`payload of ${payload.length} bytes is shorter than its ${PAYLOAD_HEADER_BYTES}-byte header`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const version = view.getUint8(0);
  if (version !== RAFT_CODEC_VERSION) throw bad(`version ${version}, this build reads ${RAFT_CODEC_VERSION}`);
  const count = view.getUint32(1, true);
  if (count > limits.payloadMessagesMax) throw bad(`${count} messages exceed payloadMessagesMax (${limits.payloadMessagesMax})`);
  if (count * 4 > payload.length - PAYLOAD_HEADER_BYTES) throw bad(`${count} messages cannot fit in ${payload.length} bytes`);
  const stored = view.getUint32(5, true);
  const actual = crc32c(payload.subarray(PAYLOAD_HEADER_BYTES));
  if (stored !== actual) throw bad(`checksum mismatch (stored ${stored}, computed ${actual})`);
  const messages: Message[] = [];
  let at = PAYLOAD_HEADER_BYTES;
  for (let k = 0; k < count; k++) {
    if (at + 4 > payload.length) throw bad(`message ${k} has no length (payload ends at ${payload.length})`);
    const length = view.getUint32(at, true);
    if (length > payload.length - at - 4) throw bad(`message ${k} of ${length} bytes overruns the payload`);
    checkMsgpackBounds(payload, at + 4, at + 4 + length, { depthMax: DEPTH_MAX, countMax: Math.max(limits.messageEntriesMax, MESSAGE_FIELDS) });
    messages.push(fromBody(packr.unpack(payload.subarray(at + 4, at + 4 + length)), k));
    at += 4 + length;
  }
  if (at !== payload.length) throw bad(`${payload.length - at} bytes after the last message`);
  return messages;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function fromBody(body: unknown, k: number): Message {
  if (!Array.isArray(body) || body.length !== MESSAGE_FIELDS) throw bad(`message ${k} is not an array of ${MESSAGE_FIELDS} fields`);
  const [type, from, to, term, logTerm, index, commit, reject, rejectHint, context, entries, snapshot] = body as unknown[];
  if (!isCount(type) || type < 1 || type > MESSAGE_TYPE_MAX) throw bad(`message ${k} has unknown type ${JSON.stringify(type)}`);
  if (!isNodeId(from) || !isNodeId(to)) throw bad(`message ${k} has a bad sender or receiver`);
  for (const [name, value] of [['term', term], ['logTerm', logTerm], ['index', index], ['commit', commit], ['rejectHint', rejectHint]] as const) {
    if (!isCount(value)) throw bad(`message ${k}: ${name} ${JSON.stringify(value)} is not a non-negative safe integer`);
  }
  if (typeof reject !== 'boolean' || typeof context !== 'string') throw bad(`message ${k} has a bad reject flag or context`);
  if (!Array.isArray(entries)) throw bad(`message ${k}: entries is not an array`);
  const decoded: Message = {
    type: type as MessageType, from, to, term: term as number, logTerm: logTerm as number, index: index as number,
    commit: commit as number, reject, rejectHint: rejectHint as number, context, entries: entries.map((e, i) => toEntry(e, k, i)),
  };
  if (snapshot !== null) decoded.snapshot = toSnapshot(snapshot, k);
  return decoded;
}

function toEntry(e: unknown, k: number, i: number): Entry {
  if (!Array.isArray(e) || e.length !== 4) throw bad(`message ${k} entry ${i} is not [index, term, type, data]`);
  const [index, term, type, data] = e as unknown[];
  if (!isCount(index) || !isCount(term) || (type !== 0 && type !== 1) || !isBytes(data)) throw bad(`message ${k} entry ${i} has a bad field`);
  return { index, term, type: type as EntryType, data };
}

function toSnapshot(s: unknown, k: number): Snapshot {
  if (!Array.isArray(s) || s.length !== 4) throw bad(`message ${k}: snapshot is not [index, term, voters, data]`);
  const [index, term, voters, data] = s as unknown[];
  if (!isCount(index) || !isCount(term) || !Array.isArray(voters) || !voters.every(isNodeId) || !isBytes(data)) throw bad(`message ${k}: snapshot has a bad field`);
  return { index, term, voters, data };
}
