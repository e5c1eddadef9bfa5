/**
 * Argument checks for the public API: they turn what a caller passed into exactly what the
 * internals expect, or throw INVALID_ARGUMENT naming the argument and quoting the value.
 */
import { InvalidArgumentError } from './errors.ts';
import { ValueKind } from './internal-key.ts';
import type { DbOptions } from './options.ts';
import { compareBytes, toBytes } from './util/bytes.ts';
import type { BatchOp } from './write-batch.ts';
import type { Bounds } from './db-iterator.ts';

export type KeyLike = Uint8Array | string;

export type BatchOperation =
  | { type: 'put'; key: KeyLike; value: KeyLike }
  | { type: 'del'; key: KeyLike }
  /** Deletes every key k with gte <= k < lt (see Db.deleteRange). */
  | { type: 'delRange'; gte: KeyLike; lt: KeyLike };

/** The range `Db.deleteRange` takes: every key k with gte <= k < lt. */
export interface KeyRange {
  gte: KeyLike;
  lt: KeyLike;
}

export interface IteratorOptions<S> {
  gt?: KeyLike;
  gte?: KeyLike;
  lt?: KeyLike;
  lte?: KeyLike;
  reverse?: boolean;
  /** At most this many entries; -1, Infinity or undefined for no limit. */
  limit?: number;
  snapshot?: S;
}

const EMPTY = new Uint8Array(0);

export function checkKey(key: unknown, options: DbOptions): Uint8Array {
  const bytes = toBytes(key, 'key');
  if (bytes.length > options.keyBytesMax) {
    throw new InvalidArgumentError(`key is ${bytes.length} bytes, more than keyBytesMax (${options.keyBytesMax})`);
  }
  return bytes;
}

/** The keys of a getMany: an array of at most batchOpsMax keys, each checked as checkKey does. */
export function checkKeys(keys: unknown, options: DbOptions): Uint8Array[] {
  if (!Array.isArray(keys)) throw new InvalidArgumentError(`keys must be an array, got ${typeof keys}`);
  if (keys.length > options.batchOpsMax) {
    throw new InvalidArgumentError(`getMany has ${keys.length} keys, more than batchOpsMax (${options.batchOpsMax})`);
  }
  const out: Uint8Array[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    try {
      out[i] = checkKey(keys[i], options);
    } catch (err) {
      throw new InvalidArgumentError(`keys[${i}]: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

export function checkValue(value: unknown, options: DbOptions): Uint8Array {
  const bytes = toBytes(value, 'value');
  if (bytes.length > options.valueBytesMax) {
    throw new InvalidArgumentError(`value is ${bytes.length} bytes, more than valueBytesMax (${options.valueBytesMax})`);
  }
  return bytes;
}

/**
 * A range to delete, as a range-delete op: `{ gte, lt }` and nothing else, both keys within
 * keyBytesMax, gte < lt. `what` names the argument in messages ("deleteRange", "batch operation 3").
 */
export function checkRange(range: unknown, options: DbOptions, what: string): BatchOp {
  if (range === null || typeof range !== 'object' || Array.isArray(range)) {
    throw new InvalidArgumentError(`${what}: the range must be an object { gte, lt }, got ${range === null ? 'null' : Array.isArray(range) ? 'an array' : typeof range}`);
  }
  const r = range as Record<string, unknown>;
  for (const name of Object.keys(r)) {
    if (!RANGE_NAMES.has(name)) throw new InvalidArgumentError(`${what}: unknown range option ${JSON.stringify(name)} (a range is { gte, lt })`);
  }
  for (const name of ['gte', 'lt']) {
    if (r[name] === undefined) throw new InvalidArgumentError(`${what}: the range has no "${name}" (a range is { gte, lt })`);
  }
  const bound = (name: 'gte' | 'lt'): Uint8Array => {
    try {
      return checkKey(toBytes(r[name], name), options);
    } catch (err) {
      throw new InvalidArgumentError(`${what}: ${name}: ${(err as Error).message}`, { cause: err });
    }
  };
  const start = bound('gte');
  const end = bound('lt');
  if (compareBytes(start, end) >= 0) {
    throw new InvalidArgumentError(`${what}: the range is empty: gte ${quoteKey(start)} is not below lt ${quoteKey(end)}`);
  }
  return { kind: ValueKind.RangeDelete, key: start, value: end };
}

const RANGE_NAMES = new Set(['gte', 'lt']);

/** A key for a message: JSON if it is printable UTF-8, else hex; long keys cut short. */
function quoteKey(key: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(key.subarray(0, 64));
  const shown = /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${Buffer.from(key.subarray(0, 32)).toString('hex')}`;
  return key.length > 64 ? `${shown}… (${key.length} bytes)` : shown;
}

export function checkSyncOption(options: unknown, fallback: boolean): boolean {
  if (options === undefined) return fallback;
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`write options must be an object, got ${typeof options}`);
  const sync = (options as { sync?: unknown }).sync;
  if (sync === undefined) return fallback;
  if (typeof sync !== 'boolean') throw new InvalidArgumentError(`option "sync" must be a boolean, got ${typeof sync}`);
  return sync;
}

export function checkBatch(ops: unknown, options: DbOptions): BatchOp[] {
  if (!Array.isArray(ops)) throw new InvalidArgumentError(`batch must be an array of operations, got ${typeof ops}`);
  if (ops.length > options.batchOpsMax) {
    throw new InvalidArgumentError(`batch has ${ops.length} operations, more than batchOpsMax (${options.batchOpsMax})`);
  }
  return ops.map((op: unknown, i) => {
    if (op === null || typeof op !== 'object') throw new InvalidArgumentError(`batch operation ${i} must be an object`);
    const { type, key, value } = op as { type?: unknown; key?: unknown; value?: unknown };
    if (type === 'put') return { kind: ValueKind.Put, key: checkKey(key, options), value: checkValue(value, options) };
    if (type === 'del') return { kind: ValueKind.Delete, key: checkKey(key, options), value: EMPTY };
    if (type === 'delRange') {
      const { type: _type, ...range } = op as Record<string, unknown>;
      return checkRange(range, options, `batch operation ${i}`);
    }
    throw new InvalidArgumentError(`batch operation ${i} has type ${JSON.stringify(type)}, expected "put", "del" or "delRange"`);
  });
}

const ITERATOR_OPTION_NAMES = new Set(['gt', 'gte', 'lt', 'lte', 'reverse', 'limit', 'snapshot']);

export function checkIteratorOptions<S>(input: unknown): { bounds: Bounds; reverse: boolean; limit: number; snapshot: S | undefined } {
  const options = (input ?? {}) as IteratorOptions<S>;
  if (typeof options !== 'object') throw new InvalidArgumentError(`iterator options must be an object, got ${typeof input}`);
  for (const name of Object.keys(options)) {
    if (!ITERATOR_OPTION_NAMES.has(name)) throw new InvalidArgumentError(`Unknown iterator option ${JSON.stringify(name)}`);
  }
  const bounds: Bounds = {};
  if (options.gte !== undefined) bounds.lower = toBytes(options.gte, 'gte');
  if (options.gt !== undefined) {
    bounds.lower = toBytes(options.gt, 'gt');
    bounds.lowerExclusive = true;
  }
  if (options.lte !== undefined) bounds.upper = toBytes(options.lte, 'lte');
  if (options.lt !== undefined) {
    bounds.upper = toBytes(options.lt, 'lt');
    bounds.upperExclusive = true;
  }
  const reverse = options.reverse ?? false;
  if (typeof reverse !== 'boolean') throw new InvalidArgumentError(`iterator option "reverse" must be a boolean`);
  const limit = options.limit ?? -1;
  if (typeof limit !== 'number' || Number.isNaN(limit) || (limit < 0 && limit !== -1) || (!Number.isInteger(limit) && limit !== Infinity)) {
    throw new InvalidArgumentError(`iterator option "limit" must be a non-negative integer, -1 or Infinity, got ${String(limit)}`);
  }
  return { bounds, reverse, limit: limit === Infinity ? -1 : limit, snapshot: options.snapshot };
}
