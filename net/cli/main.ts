/**
 * The command-line client's entry: `bin/kv COMMAND …` (the bundled build of this folder; see
 * bin/kv), or `npm run kv -- COMMAND …`. `kv --help` lists the commands, `kv COMMAND --help`
 * explains one. docs/operations.md, "The CLI", is the reference.
 *
 * Every failure is one line on stderr: `kv: …`, exit 2 for a mistake in the command line or the
 * config (with the command's --help to read), exit 1 for a failure at run time (a node's refusal
 * with its code, no node answering, a key not found). A reader that closes stdout early
 * (`kv export | head`) ends the run quietly.
 */
import { ClientError } from '../errors.ts';
import { helpText, parseCommandLine, UsageError, type CommandSpec } from './args.ts';
import { cluster, keyslot, promote, shard, transfer } from './admin-commands.ts';
import { makeContext } from './context.ts';
import { batch, del, get, put, scan, type Command } from './data-commands.ts';
import { closeNodeConnections } from './node-ask.ts';
import { quietOnClosedStdout } from './output.ts';
import { status } from './status.ts';
import { exportKeys, importKeys } from './transfer-commands.ts';
import { exitFlushed } from './exit.ts';

export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [get, put, del, scan, batch, importKeys, exportKeys, keyslot, cluster, status, shard, transfer, promote].map((c) => [c.name, c]),
);

export async function main(argv: string[]): Promise<number> {
  quietOnClosedStdout();
  const { spec, args, values } = parseCommandLine(argv, COMMANDS as ReadonlyMap<string, CommandSpec>);
  if (values['help']) {
    process.stdout.write(helpText(spec, COMMANDS as ReadonlyMap<string, CommandSpec>));
    return 0;
  }
  if (!spec) throw new UsageError(`a command is needed: ${[...COMMANDS.keys()].join(', ')}`);
  const context = makeContext(args, values);
  try {
    return await (spec as Command).run(context);
  } finally {
    context.close();
    closeNodeConnections();
  }
}

/** The one line a failure prints, and the exit code. */
export function describeFailure(error: unknown): { line: string; code: number } {
  if (error instanceof UsageError) {
    return { line: `kv: ${error.message}${error.command ? `; see kv ${error.command} --help` : '; see kv --help'}`, code: 2 };
  }
  const code = (error as { code?: unknown }).code;
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
  if (code === 'CONFIG_INVALID') return { line: `kv: ${message}`, code: 2 };
  if (error instanceof ClientError && code === 'UNAVAILABLE') return { line: `kv: ${message}; is the cluster running? (npm start, then kv status)`, code: 1 };
  if (error instanceof ClientError && code === 'UNAUTHORIZED') return { line: `kv: ${message}; set DISTRIBKV_TOKEN or pass --token-file FILE`, code: 1 };
  return { line: `kv: ${typeof code === 'string' ? `${code}: ` : ''}${message}`, code: 1 };
}

/** Runs the CLI on this process's arguments and exits with its code, once its output is out. */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (exitCode) => exitFlushed(exitCode),
    (error: unknown) => {
      const { line, code } = describeFailure(error);
      process.stderr.write(`${line}\n`);
      return exitFlushed(code);
    },
  );
}
