/**
 * The CLI's commands on keys: get, put, del, scan, and batch (one shard's operations, atomic).
 * Import and export of many keys are in transfer-commands.ts.
 */
import { readFile } from 'node:fs/promises';
import { decodeBatch } from '../../protocol/batch-codec.ts';
import { DEFAULT_LIMITS } from '../../protocol/limits.ts';
import { READ_HELP, READ_OPTIONS, RANGE_HELP, RANGE_OPTIONS, rangeOf, readOptionsOf, UsageError, WRITE_HELP, WRITE_OPTIONS, writeOptionsOf, type CommandSpec } from './args.ts';
import type { Context } from './context.ts';
import { BATCH_FILE_BYTES_MAX } from './limits.ts';
import { write } from './output.ts';

export interface Command extends CommandSpec {
  run(context: Context): Promise<number>;
}

const decoder = new TextDecoder();

export const get: Command = {
  name: 'get', synopsis: 'get KEY', summary: 'print a key\'s value', arity: [1, 1], options: READ_OPTIONS,
  details: `Prints KEY's value (its bytes, as stored) on stdout; exit 1 if there is no such key.\n${READ_HELP}`,
  async run({ args, values, client }) {
    const read = readOptionsOf(values);
    const value = await (await client()).get(args[0]!, read);
    if (value === undefined) {
      process.stderr.write(`kv: not found: ${args[0]}\n`);
      return 1;
    }
    await write(value);
    if (process.stdout.isTTY) await write('\n');
    return 0;
  },
};

export const put: Command = {
  name: 'put', synopsis: 'put KEY [VALUE]', summary: 'store a value (VALUE, or stdin)', arity: [1, 2], options: WRITE_OPTIONS,
  details: `Stores VALUE under KEY; without VALUE, stores what stdin holds (kv put KEY < FILE).\nPrints the write's sequence number on stderr.\n${WRITE_HELP}`,
  async run({ args, values, client }) {
    const options = writeOptionsOf(values);
    if (args[1] === undefined && process.stdin.isTTY) throw new UsageError('put needs a VALUE, or the value on stdin (kv put KEY < FILE)', 'put');
    const value = args[1] ?? (await readStdin());
    const c = await client();
    if (options.acks === 0) {
      await c.put(args[0]!, value, { acks: 0, sync: options.sync });
      process.stderr.write('ok (acks=0: accepted, not yet in any log)\n');
    } else {
      process.stderr.write(`ok (seq ${await c.put(args[0]!, value, { acks: options.acks, sync: options.sync })})\n`);
    }
    return 0;
  },
};

export const del: Command = {
  name: 'del', synopsis: 'del KEY', summary: 'delete a key', arity: [1, 1], options: WRITE_OPTIONS,
  details: `Deletes KEY (deleting a missing key is not an error).\n${WRITE_HELP}`,
  async run({ args, values, client }) {
    const options = writeOptionsOf(values);
    const c = await client();
    if (options.acks === 0) {
      await c.delete(args[0]!, { acks: 0, sync: options.sync });
      process.stderr.write('ok (acks=0: accepted, not yet in any log)\n');
    } else {
      process.stderr.write(`ok (seq ${await c.delete(args[0]!, { acks: options.acks, sync: options.sync })})\n`);
    }
    return 0;
  },
};

export const scan: Command = {
  name: 'scan', synopsis: 'scan [--gte K] [--lt K]', summary: 'print keys and values in key order, across shards', arity: [0, 0],
  options: { ...RANGE_OPTIONS, ...READ_OPTIONS },
  details: `Prints "key<TAB>value" lines in key order, merged across every shard (kv export for NDJSON).\n${RANGE_HELP}\n${READ_HELP}`,
  async run({ values, client }) {
    const range = rangeOf(values);
    const read = readOptionsOf(values);
    for await (const [key, value] of (await client()).scan({ ...range, ...read })) await write(`${decoder.decode(key)}\t${decoder.decode(value)}\n`);
    return 0;
  },
};

export const batch: Command = {
  name: 'batch', synopsis: 'batch FILE', summary: 'apply one shard\'s puts and deletes atomically', arity: [1, 1], options: WRITE_OPTIONS,
  details: `Applies the operations in FILE ("-" for stdin) as one atomic batch. FILE is a JSON batch as
POST /batch takes it (docs/api.md):
  {"ops": [{"type": "put", "key": "a", "value": "1"}, {"type": "del", "key": "b"}]}
(with "encoding": "base64" for any bytes). Every key must be on one shard (kv keyslot KEY).
${WRITE_HELP}`,
  async run({ args, values, client }) {
    const options = writeOptionsOf(values);
    const bytes = args[0] === '-' ? await readStdin() : await readBatchFile(args[0]!);
    if (bytes.length > BATCH_FILE_BYTES_MAX) throw new UsageError(`${args[0]}: ${bytes.length} bytes; a batch is at most ${BATCH_FILE_BYTES_MAX}`, 'batch');
    let decoded;
    try {
      decoded = decodeBatch(bytes, DEFAULT_LIMITS);
    } catch (error) {
      throw new UsageError(`${args[0]}: ${(error as Error).message}`, 'batch');
    }
    if (decoded.kind === 'read') throw new UsageError(`${args[0]}: a batch of gets; kv batch applies puts and deletes (kv get KEY reads a key)`, 'batch');
    const { ops } = decoded;
    const c = await client();
    const operations = ops.map((op) => (op.type === 'put' ? { type: 'put' as const, key: op.key, value: op.value } : { type: 'del' as const, key: op.key }));
    if (options.acks === 0) {
      await c.batch(operations, { acks: 0, sync: options.sync });
      process.stderr.write(`ok: ${ops.length} operations (acks=0: accepted, not yet in any log)\n`);
    } else {
      process.stderr.write(`ok: ${ops.length} operations (seq ${await c.batch(operations, { acks: options.acks, sync: options.sync })})\n`);
    }
    return 0;
  },
};

async function readBatchFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'batch');
  }
}

export async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
