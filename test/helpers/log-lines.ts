/**
 * A node's log read back: its stderr is one JSON object a line (cluster/log.ts:
 * `{"level","time":"<ISO 8601>","pid",…fields,"message"}`), and tests read role changes and
 * elections from it ("elected a new shard leader", "leading the shard", …) with their times.
 */

/** One JSON log line of a node, with the address of the node that wrote it and its time in ms since the epoch. */
export interface LogLine {
  node: string;
  timeMs: number;
  message: string;
  fields: Record<string, unknown>;
}

/** The JSON lines of a node's stderr (other lines, e.g. a stack trace or a line cut off by kill -9, are skipped). */
export function parseLogLines(node: string, text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const { time, message, ...fields } = JSON.parse(line) as { time?: string; message?: string };
      const timeMs = Date.parse(time ?? '');
      if (typeof message === 'string' && Number.isFinite(timeMs)) out.push({ node, timeMs, message, fields });
    } catch {
      // Not a whole JSON line: nothing to read in it.
    }
  }
  return out;
}

/** A log line's time on this process's `performance.now()` clock (the History's). */
export function onHistoryClock(line: LogLine): number {
  return line.timeMs - performance.timeOrigin;
}
