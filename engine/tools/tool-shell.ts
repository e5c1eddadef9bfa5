/**
 * What the engine's command-line tools share: their exit codes, and running one as a process:
 * output to stdout, errors and usage to stderr in one line, `--help` on stdout with exit 0, and a
 * reader that closes the pipe early (`lsm-dump DIR | head`) ending the run quietly.
 */

/** Exit codes of every engine tool (docs/operations.md lists them). */
export const EXIT_OK = 0;
/** The files could not be read (missing, unreadable): an I/O failure. */
export const EXIT_FAILED = 1;
/** The command line is wrong. */
export const EXIT_USAGE = 2;
/** The files are damaged: corruption found. */
export const EXIT_CORRUPTION = 3;

/** How a tool writes: `print` for its output, `warn` for errors and usage. */
export interface ToolOutput {
  print(line: string): void;
  warn(line: string): void;
}

/** Runs `run` on this process's arguments as the tool `name`, and exits with its code. */
export function runToolProcess(name: string, run: (argv: readonly string[], out: ToolOutput) => number): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT_OK);
    process.stderr.write(`${name}: cannot write the output: ${error.message}\n`);
    process.exit(EXIT_FAILED);
  });
  let code: number;
  try {
    code = run(process.argv.slice(2), {
      print: (line) => process.stdout.write(`${line}\n`),
      warn: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (error) {
    process.stderr.write(`${name}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    code = EXIT_FAILED;
  }
  process.exitCode = code;
}
