/**
 * The CLI's command line: the options every command takes, each command's own, the help texts,
 * and the parse that checks an option belongs to the command it is given with. Pure but for
 * reading the token file.
 *
 * The token: $DISTRIBKV_TOKEN, else the first line of `--token-file FILE`, else the config's;
 * never from the command line, where every user of the machine reads it in the process list.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseAcks, type Acks } from '../../protocol/replication-options.ts';

/** A mistake in the command line: exit 2, with the message and a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionType = { type: 'string' } | { type: 'boolean'; short?: string };

export const GLOBAL_OPTIONS = {
  cluster: { type: 'string' },
  config: { type: 'string' },
  'token-file': { type: 'string' },
  /** Refused with a message: a token in argv is in the process list. */
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, OptionType>;

export const GLOBAL_HELP = `  --cluster HOST:PORT,…   nodes to ask first (default: the nodes in --config)
  --config FILE           the cluster's config (default cluster.toml)
  --token-file FILE       the token's file (first line); or set DISTRIBKV_TOKEN; else the config's
  -h, --help              this help, or a command's (kv COMMAND --help)`;

/** The options' values as parsed: strings and booleans by name. */
export type Values = Record<string, string | boolean | undefined>;

/** Which options a command takes beyond the global ones, and how it is described. */
export interface CommandSpec {
  name: string;
  /** `put KEY [VALUE]`: the line after `kv`. */
  synopsis: string;
  /** One line for `kv --help`. */
  summary: string;
  /** Lines for `kv COMMAND --help`: what it does, its options. */
  details: string;
  options: Record<string, OptionType>;
  /** Positional arguments after the command: at least, at most. */
  arity: [number, number];
}

export interface ParsedArgs {
  spec: CommandSpec | undefined;
  args: string[];
  values: Values;
}

/** Parses argv against the global options and every command's; refuses an option the chosen command does not take. */
export function parseCommandLine(argv: string[], commands: ReadonlyMap<string, CommandSpec>): ParsedArgs {
  const options: Record<string, OptionType> = { ...GLOBAL_OPTIONS };
  for (const spec of commands.values()) Object.assign(options, spec.options);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    // Node's messages may run on over lines with advice for programmers; the first says what is wrong.
    throw new UsageError((error as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, ''));
  }
  const [name, ...args] = parsed.positionals;
  const spec = name === undefined ? undefined : commands.get(name);
  if (name !== undefined && !spec) throw new UsageError(`unknown command ${JSON.stringify(name)}; the commands are ${[...commands.keys()].join(', ')}`);
  const values = parsed.values as Values;
  if (spec && !values['help']) {
    for (const token of parsed.tokens ?? []) {
      if (token.kind !== 'option' || token.name in GLOBAL_OPTIONS || token.name in spec.options) continue;
      throw new UsageError(`${token.rawName} is not an option of ${spec.name}`, spec.name);
    }
    const [least, most] = spec.arity;
    if (args.length < least || args.length > most) {
      throw new UsageError(`${spec.name} takes ${least === most ? least : `${least} to ${most}`} argument${most === 1 ? '' : 's'} (${spec.synopsis}), got ${args.length}`, spec.name);
    }
  }
  if (values['token'] !== undefined) throw new UsageError('--token would show the token to every user of this machine (ps); set DISTRIBKV_TOKEN or pass --token-file FILE');
  return { spec, args, values };
}

/** `kv --help`, or `kv COMMAND --help`. */
export function helpText(spec: CommandSpec | undefined, commands: ReadonlyMap<string, CommandSpec>): string {
  if (spec) return `usage: kv ${spec.synopsis}\n${spec.details}\nOptions every command takes:\n${GLOBAL_HELP}\n`;
  const width = Math.max(...[...commands.values()].map((c) => c.synopsis.length));
  return [
    'usage: kv [options] COMMAND [arguments]',
    'A client of a distribKV cluster (docs/operations.md, "The CLI").',
    '',
    'Commands:',
    ...[...commands.values()].map((c) => `  ${c.synopsis.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    GLOBAL_HELP,
    '',
    'Exit codes: 0 done, 1 failed (a key not found, a node down for status), 2 bad usage.',
    '',
  ].join('\n');
}

/** The token to send: $DISTRIBKV_TOKEN, else --token-file's first line; undefined leaves it to the config. */
export async function tokenOf(values: Values): Promise<string | undefined> {
  const fromEnv = process.env['DISTRIBKV_TOKEN'];
  if (fromEnv) return fromEnv;
  const file = values['token-file'];
  if (typeof file !== 'string') return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--token-file ${JSON.stringify(file)}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const token = text.split(/\r?\n/, 1)[0]!.trim();
  if (token === '') throw new UsageError(`--token-file ${JSON.stringify(file)} is empty`);
  return token;
}

// ---- Option values shared by several commands ----------------------------------------------

export const WRITE_OPTIONS = {
  acks: { type: 'string' },
  sync: { type: 'boolean' },
} as const satisfies Record<string, OptionType>;

export const WRITE_HELP = `  --acks 0|1|all   wait for nothing, the leader's log, or every in-sync replica (default: the server's)
  --sync           fsync the leader's log before answering`;

export const READ_OPTIONS = {
  replica: { type: 'boolean' },
  'min-seq': { type: 'string' },
} as const satisfies Record<string, OptionType>;

export const READ_HELP = `  --replica        read from one of the shard's replicas instead of its leader
  --min-seq N      with --replica: the replica must have applied sequence number N (else the leader answers)`;

export const RANGE_OPTIONS = {
  gt: { type: 'string' },
  gte: { type: 'string' },
  lt: { type: 'string' },
  lte: { type: 'string' },
  limit: { type: 'string' },
} as const satisfies Record<string, OptionType>;

export const RANGE_HELP = `  --gte KEY | --gt KEY   from KEY (inclusive | exclusive)
  --lt KEY | --lte KEY   up to KEY (exclusive | inclusive)
  --limit N              at most N entries in all`;

export function writeOptionsOf(values: Values): { acks: Acks | undefined; sync: boolean } {
  const text = values['acks'];
  if (text === undefined) return { acks: undefined, sync: values['sync'] === true };
  const acks = parseAcks(String(text));
  if (acks === undefined) throw new UsageError(`--acks must be 0, 1 or all, got ${JSON.stringify(text)}`);
  return { acks, sync: values['sync'] === true };
}

export function readOptionsOf(values: Values): { readFrom: 'leader' | 'replica'; minSeq: number | undefined } {
  const replica = values['replica'] === true;
  const minSeq = values['min-seq'] === undefined ? undefined : wholeNumber(values['min-seq'], '--min-seq', 0);
  if (minSeq !== undefined && !replica) throw new UsageError('--min-seq applies to replica reads; add --replica (a leader read sees every write it acknowledged)');
  return { readFrom: replica ? 'replica' : 'leader', minSeq };
}

export function rangeOf(values: Values): { gt?: string; gte?: string; lt?: string; lte?: string; limit?: number } {
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  if (text('gt') !== undefined && text('gte') !== undefined) throw new UsageError('give --gt or --gte, not both');
  if (text('lt') !== undefined && text('lte') !== undefined) throw new UsageError('give --lt or --lte, not both');
  const limit = values['limit'] === undefined ? undefined : wholeNumber(values['limit'], '--limit', 1);
  return { gt: text('gt'), gte: text('gte'), lt: text('lt'), lte: text('lte'), limit };
}

/** A whole number of at least `least`, or a UsageError naming `what`. */
export function wholeNumber(text: unknown, what: string, least: number): number {
  const n = Number(text);
  if (typeof text !== 'string' || !/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < least) {
    throw new UsageError(`${what} must be a whole number${least > 0 ? ` of at least ${least}` : ''}, got ${JSON.stringify(text)}`);
  }
  return n;
}
