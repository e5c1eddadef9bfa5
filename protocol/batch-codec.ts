/**
 * The POST /batch body: JSON, one shard's operations. Either writes, applied atomically:
 *
 *   {"encoding": "utf8", "ops": [{"type": "put", "key": "a", "value": "1"},
 *                                {"type": "del", "key": "b"}]}
 *
 * or reads, a multi-get answered with every key's value at one point of the shard's log
 * (protocol/multi-get-codec.ts):
 *
 *   {"ops": [{"type": "get", "key": "a"}, {"type": "get", "key": "b"}]}
 *
 * A batch mixing gets with writes is BAD_BATCH: a write batch's answer is a sequence number,
 * a read batch's is values, and a read inside a write batch would have no defined point.
 *
 * `encoding` ("utf8", the default, or "base64") says how every key and value string is
 * written; base64 carries any bytes. Keys are 1..KEY_BYTES_MAX bytes, values at most
 * `valueBytesMax`, at most `batchOpsMax` operations, at least one. Unknown fields are
 * BAD_BATCH, so a misspelt "value" is not stored as an empty value.
 *
 * Before a byte is parsed, the body's shape is bounded as it arrives (`batchShape`, checked by
 * the node while it reads the body): JSON.parse would otherwise build every value of a 32 MiB
 * body of `{},` before the operation count could be checked.
 *
 * Pure: bytes in, decoded operations out (or a ClusterError); and the encoder the client uses.
 */
import { ClusterError } from './errors.ts';
import type { JsonShape } from './json-shape.ts';
import { KEY_BYTES_MAX, type Limits } from './limits.ts';
import type { Encoding } from './scan-codec.ts';

export type BatchOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array };

/** How a multi-get is answered: JSON in the request's encoding, or binary for a binary batch (batch-binary.ts). */
export type AnswerFormat = Encoding | 'binary';

/** A decoded POST /batch body: writes, or the keys of a multi-get (in request order, duplicates kept). */
export type DecodedBatch = { kind: 'write'; ops: BatchOp[] } | { kind: 'read'; keys: Uint8Array[]; answer: AnswerFormat };

type DecodedOp = BatchOp | { type: 'get'; key: Uint8Array };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `{"encoding":"base64","ops":[`: its `{ : , : [`. */
const BATCH_FRAME_STRUCTURE = 5;
/** `{"type":"put","key":"k","value":"v"}` and the `,` before the next: `{ : , : , :` and `,`. */
const BATCH_OP_STRUCTURE = 7;
/** The body object, the ops array, an op object. */
const BATCH_DEPTH_MAX = 3;

/**
 * The most JSON structure a batch of `batchOpsMax` operations can have: a body past it holds
 * more operations (or more fields) than any valid batch, and is refused before it is parsed.
 */
export function batchShape(limits: Readonly<Limits>): JsonShape {
  return { structureMax: BATCH_FRAME_STRUCTURE + BATCH_OP_STRUCTURE * limits.batchOpsMax, depthMax: BATCH_DEPTH_MAX };
}

/** Decodes and checks a batch body. Throws BAD_BATCH, EMPTY_KEY, KEY_TOO_LARGE or VALUE_TOO_LARGE. */
export function decodeBatch(body: Uint8Array, limits: Readonly<Limits>): DecodedBatch {
  let doc: unknown;
  try {
    doc = JSON.parse(utf8.decode(body));
  } catch (error) {
    throw new ClusterError('BAD_BATCH', `batch body is not UTF-8 JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw badBatch('batch body must be a JSON object with an "ops" array');
  const { encoding = 'utf8', ops } = doc as Record<string, unknown>;
  const extra = unknownField(doc, BATCH_FIELDS);
  if (extra !== undefined) throw badBatch(`unknown field ${JSON.stringify(extra)}; a batch has "encoding" and "ops"`);
  if (encoding !== 'utf8' && encoding !== 'base64') throw badBatch(`encoding must be "utf8" or "base64", got ${JSON.stringify(encoding)}`);
  if (!Array.isArray(ops)) throw badBatch('"ops" must be an array');
  if (ops.length === 0) throw badBatch('"ops" is empty; a batch needs at least one operation');
  if (ops.length > limits.batchOpsMax) throw badBatch(`${ops.length} operations; a batch holds at most ${limits.batchOpsMax}`);
  const decoded = ops.map((op, i) => decodeOp(op, i, encoding, limits));
  const reads = decoded[0]!.type === 'get';
  const odd = decoded.findIndex((op) => (op.type === 'get') !== reads);
  if (odd >= 0) throw badBatch(`ops[${odd}] is a ${JSON.stringify(decoded[odd]!.type)} in a batch of ${reads ? 'gets' : 'writes'}; a batch is all gets or all puts and dels`);
  return reads ? { kind: 'read', keys: decoded.map((op) => op.key), answer: encoding } : { kind: 'write', ops: decoded as BatchOp[] };
}

function decodeOp(raw: unknown, i: number, encoding: Encoding, limits: Readonly<Limits>): DecodedOp {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badBatch(`ops[${i}] must be an object`);
  const { type, key, value } = raw as Record<string, unknown>;
  const extra = unknownField(raw, OP_FIELDS);
  if (extra !== undefined) throw badBatch(`ops[${i}] has unknown field ${JSON.stringify(extra)}`);
  const keyBytes = field(key, `ops[${i}].key`, encoding);
  if (keyBytes.length === 0) throw new ClusterError('EMPTY_KEY', `ops[${i}].key is empty; keys are 1-${KEY_BYTES_MAX} bytes`);
  if (keyBytes.length > KEY_BYTES_MAX) {
    throw new ClusterError('KEY_TOO_LARGE', `ops[${i}].key is ${keyBytes.length} bytes; keys are at most ${KEY_BYTES_MAX} bytes`);
  }
  if (type === 'del' || type === 'get') {
    if (value !== undefined) throw badBatch(`ops[${i}] is a ${JSON.stringify(type)} and takes no value`);
    return { type, key: keyBytes };
  }
  if (type !== 'put') throw badBatch(`ops[${i}].type must be "put", "del" or "get", got ${JSON.stringify(type) ?? 'nothing'}`);
  const valueBytes = field(value, `ops[${i}].value`, encoding);
  if (valueBytes.length > limits.valueBytesMax) {
    throw new ClusterError('VALUE_TOO_LARGE', `ops[${i}].value is ${valueBytes.length} bytes; values are at most ${limits.valueBytesMax} bytes`);
  }
  return { type: 'put', key: keyBytes, value: valueBytes };
}

const BATCH_FIELDS: ReadonlySet<string> = new Set(['encoding', 'ops']);
const OP_FIELDS: ReadonlySet<string> = new Set(['type', 'key', 'value']);

/** The first own field of `object` not in `known`, if any; without the copy a rest pattern makes for every op. */
function unknownField(object: object, known: ReadonlySet<string>): string | undefined {
  for (const name in object) if (!known.has(name)) return name;
  return undefined;
}

/** String.prototype.isWellFormed (ES2024, Node 20): the project's lib is ES2022. */
type WellFormedCheck = string & { isWellFormed(): boolean };

function field(value: unknown, what: string, encoding: Encoding): Uint8Array {
  if (typeof value !== 'string') throw badBatch(`${what} must be a string, got ${value === null ? 'null' : typeof value}`);
  if (encoding === 'utf8') {
    // A lone surrogate has no UTF-8 form: Buffer.from would store U+FFFD in its place, so two
    // different keys ("\ud800", "\udbff") would silently be one. Bytes JSON cannot carry as
    // text go in base64.
    if (!(value as WellFormedCheck).isWellFormed()) throw badBatch(`${what} holds a lone surrogate (an unpaired \\uD800-\\uDFFF escape), which UTF-8 cannot carry; send its bytes with "encoding": "base64"`);
    return utf8Bytes(value);
  }
  if (!BASE64.test(value)) throw badBatch(`${what} is not valid base64`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

/**
 * The UTF-8 bytes of `text`, as a plain Uint8Array. Buffer.from rather than TextEncoder: the same
 * bytes (both would turn a lone surrogate into U+FFFD, which is why field() refuses one first),
 * about 2-3x faster on short strings, because it carves them from Node's shared pool. The
 * engine copies every key and value into its own batch before a write resolves, so no op keeps
 * a pool slab alive for long.
 */
function utf8Bytes(text: string): Uint8Array {
  const bytes = Buffer.from(text, 'utf8');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function badBatch(message: string): ClusterError {
  return new ClusterError('BAD_BATCH', message);
}

/** Encodes a multi-get's keys as a batch body, in base64 so any bytes survive. */
export function encodeGetBatch(keys: readonly Uint8Array[]): Uint8Array {
  return encoder.encode(JSON.stringify({ encoding: 'base64', ops: keys.map((key) => ({ type: 'get', key: base64(key) })) }));
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Encodes operations as a batch body, in base64 so any bytes survive. */
export function encodeBatch(ops: readonly BatchOp[]): Uint8Array {
  const json = {
    encoding: 'base64',
    ops: ops.map((op) => (op.type === 'put' ? { type: 'put', key: base64(op.key), value: base64(op.value) } : { type: 'del', key: base64(op.key) })),
  };
  return encoder.encode(JSON.stringify(json));
}
