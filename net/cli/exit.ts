/**
 * Leaving the CLI without losing its output. Writes to a pipe are asynchronous on POSIX, and
 * process.exit drops what is still queued: `kv export | gzip` lost the tail of its output when
 * the reader was slower than the export (seen in CI: 771 of 1,201 lines arrived).
 */

/** process.exit(code) once stdout and stderr have handed everything written to them to the OS. */
export async function exitFlushed(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** Resolves when every write queued on `stream` before this call has completed (or failed). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  // Writes complete in order, so an empty write's callback comes after those queued before it.
  return new Promise((resolve) => stream.write('', () => resolve()));
}
