/**
 * Many keys at once: `kv export` writes every key in a range as NDJSON, `kv import` reads that
 * back. One JSON object per line:
 *
 *   {"key": "user:1", "value": "Ada"}
 *   {"key_base64": "AAE=", "value_base64": "/w=="}
 *
 * A key or value that is not UTF-8 is written as `*_base64`. An import groups lines by shard into
 * batches (IMPORT_BATCH_OPS_MAX, IMPORT_BATCH_BYTES_MAX) and keeps IMPORT_BATCHES_IN_FLIGHT_MAX
 * of them in flight: each batch is atomic, the import as a whole is not (a failure stops it, and
 * the lines before may be stored). Both show a progress bar on a terminal for long runs.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Client } from '../client.ts';
import { READ_HELP, READ_OPTIONS, RANGE_HELP, RANGE_OPTIONS, rangeOf, readOptionsOf, UsageError, WRITE_HELP, WRITE_OPTIONS, writeOptionsOf } from './args.ts';
import type { Command } from './data-commands.ts';
import { IMPORT_BATCH_BYTES_MAX, IMPORT_BATCH_OPS_MAX, IMPORT_BATCHES_IN_FLIGHT_MAX, IMPORT_LINE_BYTES_MAX } from './limits.ts';
import { Progress, write } from './output.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export const exportKeys: Command = {
  name: 'export', synopsis: 'export [--gte K] [--lt K]', summary: 'write keys and values as NDJSON (for import)', arity: [0, 0],
  options: { ...RANGE_OPTIONS, ...READ_OPTIONS },
  details: `Writes every key in the range, in key order, as one JSON object per line on stdout:
  {"key": "user:1", "value": "Ada"}       ("key_base64"/"value_base64" for bytes that are not UTF-8)
kv import reads it back. A progress bar shows on stderr when it is a terminal.
${RANGE_HELP}\n${READ_HELP}`,
  async run({ values, client }) {
    const range = rangeOf(values);
    const read = readOptionsOf(values);
    const progress = new Progress('export', 'keys');
    let count = 0;
    for await (const [key, value] of (await client()).scan({ ...range, ...read })) {
      await write(`${JSON.stringify({ ...field('key', key), ...field('value', value) })}\n`);
      progress.update(++count);
    }
    progress.done();
    process.stderr.write(`exported ${count} keys\n`);
    return 0;
  },
};

export const importKeys: Command = {
  name: 'import', synopsis: 'import FILE', summary: 'store the keys of an NDJSON file (from export)', arity: [1, 1], options: WRITE_OPTIONS,
  details: `Stores every {"key", "value"} line of FILE ("-" for stdin), as kv export writes them, in
batches per shard (each batch atomic; the import as a whole is not: a failure stops it, and lines
before it may be stored). A progress bar shows on stderr when it is a terminal.
${WRITE_HELP}`,
  async run({ args, values, client }) {
    const options = writeOptionsOf(values);
    if (options.acks === 0) throw new UsageError('import needs acknowledged writes: --acks 1 or all', 'import');
    const file = args[0]!;
    const size = file === '-' ? undefined : await stat(file).then((s) => s.size, (error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${file}: ${error.code ?? error.message}`, 'import');
    });
    const input = file === '-' ? process.stdin : createReadStream(file);
    const importer = new Importer(await client(), { acks: options.acks, sync: options.sync }, size);
    await importer.run(lines(input));
    process.stderr.write(`imported ${importer.stored} keys\n`);
    return 0;
  },
};

function field(name: 'key' | 'value', bytes: Uint8Array): Record<string, string> {
  try {
    return { [name]: utf8.decode(bytes) };
  } catch {
    return { [`${name}_base64`]: Buffer.from(bytes).toString('base64') };
  }
}

/** One line of an import file as a key and a value, or a UsageError naming the line. */
export function parseLine(text: string, line: number): { key: Uint8Array; value: Uint8Array } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`line ${line} is not JSON: ${(error as Error).message}`, 'import');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`line ${line}: expected {"key": …, "value": …}`, 'import');
  const read = (name: 'key' | 'value'): Uint8Array => {
    const o = doc as Record<string, unknown>;
    if (typeof o[name] === 'string') return encoder.encode(o[name] as string);
    if (typeof o[`${name}_base64`] === 'string') return Buffer.from(o[`${name}_base64`] as string, 'base64');
    throw new UsageError(`line ${line}: no "${name}" (or "${name}_base64") string`, 'import');
  };
  return { key: read('key'), value: read('value') };
}

/** NDJSON lines of a byte stream, with their numbers; blank lines skipped; a line over IMPORT_LINE_BYTES_MAX refused. */
async function* lines(input: AsyncIterable<Buffer | string>): AsyncGenerator<{ text: string; line: number; bytes: number }> {
  let pending = '';
  let line = 0;
  let bytes = 0;
  for await (const chunk of input) {
    bytes += chunk.length;
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop()!;
    if (pending.length > IMPORT_LINE_BYTES_MAX) throw new UsageError(`line ${line + parts.length + 1} is over ${IMPORT_LINE_BYTES_MAX} bytes`, 'import');
    for (const text of parts) {
      line++;
      if (text.trim() !== '') yield { text, line, bytes };
    }
  }
  if (pending.trim() !== '') yield { text: pending, line: line + 1, bytes };
}

interface Pending {
  ops: { type: 'put'; key: Uint8Array; value: Uint8Array }[];
  bytes: number;
}

class Importer {
  stored = 0;
  private readonly byShard = new Map<string, Pending>();
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private readonly progress = new Progress('import', 'keys');

  constructor(private readonly client: Client, private readonly options: { acks: 1 | 'all' | undefined; sync: boolean }, private readonly size: number | undefined) {}

  async run(input: AsyncIterable<{ text: string; line: number; bytes: number }>): Promise<void> {
    try {
      for await (const { text, line, bytes } of input) {
        const { key, value } = parseLine(text, line);
        const shard = this.client.currentTopology().shardOf(key).name;
        let pending = this.byShard.get(shard);
        if (!pending) this.byShard.set(shard, (pending = { ops: [], bytes: 0 }));
        pending.ops.push({ type: 'put', key, value });
        pending.bytes += key.length + value.length;
        if (pending.ops.length >= IMPORT_BATCH_OPS_MAX || pending.bytes >= IMPORT_BATCH_BYTES_MAX) await this.send(shard);
        this.progress.update(this.stored, this.size ? bytes / this.size : undefined);
      }
      for (const shard of [...this.byShard.keys()]) await this.send(shard);
    } finally {
      await Promise.allSettled(this.inFlight);
      this.progress.done();
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Sends a shard's pending batch, once fewer than the limit are in flight; rethrows an earlier batch's failure. */
  private async send(shard: string): Promise<void> {
    const pending = this.byShard.get(shard);
    this.byShard.delete(shard);
    if (this.failure !== undefined) throw this.failure;
    if (!pending || pending.ops.length === 0) return;
    while (this.inFlight.size >= IMPORT_BATCHES_IN_FLIGHT_MAX) await Promise.race(this.inFlight);
    const sent: Promise<void> = this.client.batch(pending.ops, this.options).then(
      () => {
        this.stored += pending.ops.length;
      },
      (error: unknown) => {
        this.failure ??= error;
      },
    ).finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }
}
