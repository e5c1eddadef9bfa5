/**
 * How the CLI writes: stdout with backpressure (an export of millions of keys does not buffer in
 * memory), a reader that went away (`kv export | head`) ends the run quietly, tables with aligned
 * columns, and a progress bar on stderr that shows only on a terminal and only for long runs.
 */
import { once } from 'node:events';
import { PROGRESS_DELAY_MS, PROGRESS_INTERVAL_MS } from './limits.ts';

/** Exits 0 when stdout's reader closed (EPIPE): nothing is wrong, nobody is reading. */
export function quietOnClosedStdout(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

/** Writes to stdout, waiting for it to drain when its buffer is full. */
export async function write(text: string | Uint8Array): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

/** Rows as aligned columns, the first row the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return `${rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n')}\n`;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i > 0 && n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d`;
}

/**
 * A one-line progress bar on stderr: `label  [#####-----]  42%  12,345 keys  3,000/s`. Drawn only
 * when stderr is a terminal and the run has lasted PROGRESS_DELAY_MS; `done` clears it.
 */
export class Progress {
  private readonly startMs = performance.now();
  private drawnMs = 0;
  private drawn = false;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly label: string, private readonly unit: string) {}

  /** `count` items so far; `fraction` of the whole (0..1) when known. */
  update(count: number, fraction?: number): void {
    if (!this.tty) return;
    const now = performance.now();
    if (now - this.startMs < PROGRESS_DELAY_MS || now - this.drawnMs < PROGRESS_INTERVAL_MS) return;
    this.drawnMs = now;
    this.drawn = true;
    const rate = Math.round(count / ((now - this.startMs) / 1000));
    const bar = fraction === undefined ? '' : ` [${'#'.repeat(Math.round(fraction * 20)).padEnd(20, '-')}] ${Math.floor(fraction * 100)}%`;
    process.stderr.write(`\r${this.label}${bar}  ${count.toLocaleString('en')} ${this.unit}  ${rate.toLocaleString('en')}/s\x1b[K`);
  }

  done(): void {
    if (this.drawn) process.stderr.write('\r\x1b[K');
  }
}
