/**
 * The node's log: one JSON object per line on stderr, so it can be grepped and parsed.
 * A seam like the others: tests and embedders pass their own `Log`.
 */
export type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export const stderrLog: Log = (level, message, fields) => {
  const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
  process.stderr.write(`${line}\n`);
};

/** Fields describing an error for a log line, cause included. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const code = (error as { code?: unknown }).code;
  return { error: error.message, code, stack: error.stack, cause: error.cause === undefined ? undefined : String(error.cause) };
}
