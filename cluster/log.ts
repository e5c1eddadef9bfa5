/**
 * The node's log: one JSON object per line on stderr, written by pino, so it can be grepped
 * and parsed. A seam like the others: tests and embedders pass their own `Log`.
 *
 * Line shape (unchanged from before pino): `{"level":"info","time":"<ISO 8601>","pid":…,
 * …fields…,"message":"…"}`. Levels, quietest last: trace (one line per request), debug
 * (lifecycle detail: config, replication streams opening and closing), info (start, stop,
 * role changes), warn, error. Nothing is logged per request at info or above, except
 * requests that fail with INTERNAL, CORRUPTION or IO_ERROR (error).
 *
 * Writes are synchronous: a node logs little at info, and the last lines before
 * `process.exit` ("stopped cleanly", a start-up failure) must not be lost in a buffer.
 */
import { pino } from 'pino';

/** Levels a call site may log at. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** Levels a node may be configured with: a call-site level, or `silent` for none. */
export const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'silent'];

/** The environment variable read when `--log-level` is not given. */
export const LOG_LEVEL_ENV = 'DISTRIBKV_LOG_LEVEL';
export const LOG_LEVEL_DEFAULT = 'info';

export interface Log {
  (level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  /** Whether lines at `level` are written; lets a hot path skip building its fields. Absent: assume yes. */
  enabled?(level: LogLevel): boolean;
}

/**
 * A pino-backed Log writing to stderr at `level` (one of LOG_LEVELS).
 *
 * @example
 * ```ts
 * const log = createLog('debug');
 * log('debug', 'replication stream opened', { follower: '127.0.0.1:7101' });
 * ```
 */
export function createLog(level: string, fd = 2): Log {
  if (!LOG_LEVELS.includes(level)) throw new Error(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  const logger = pino(
    {
      level,
      messageKey: 'message',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd, sync: true }),
  );
  const log: Log = (lineLevel, message, fields) => {
    if (fields === undefined) logger[lineLevel](message);
    else logger[lineLevel](fields, message);
  };
  log.enabled = (lineLevel) => logger.isLevelEnabled(lineLevel);
  return log;
}

/** The level to run at: the flag if given, else the environment variable, else info. Not validated here. */
export function chooseLogLevel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env[LOG_LEVEL_ENV] || LOG_LEVEL_DEFAULT);
}

/** Fields describing an error for a log line, cause included. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const code = (error as { code?: unknown }).code;
  return { error: error.message, code, stack: error.stack, cause: error.cause === undefined ? undefined : String(error.cause) };
}
