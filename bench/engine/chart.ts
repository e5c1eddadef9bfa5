/**
 * A hand-written SVG chart of the results: for each workload and mode, one horizontal bar per
 * engine, its length the ops/s on a log scale (the figures span five orders of magnitude,
 * from fsync-bound writes to in-memory scans). No dependencies; the output is a static file.
 */
import type { Row } from './report.ts';
import type { EngineName } from './store.ts';

const COLORS: Record<EngineName, string> = { distribkv: '#d9480f', 'classic-level': '#1c7ed6', lmdb: '#5c940d' };
const BAR_PX = 11;
const GROUP_GAP_PX = 12;
const LABEL_PX = 170;
const PLOT_PX = 620;
const VALUE_PX = 110;
const TOP_PX = 70;
const AXIS_MIN_LOG = 2;
const AXIS_MAX_LOG = 7;
const AXIS_LABELS = ['100', '1k', '10k', '100k', '1M', '10M'];

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function shortNumber(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e5 ? 0 : 1)}k`;
  return x.toFixed(0);
}

function barWidth(opsPerSec: number): number {
  const log = Math.min(AXIS_MAX_LOG, Math.max(AXIS_MIN_LOG, Math.log10(Math.max(1, opsPerSec))));
  return ((log - AXIS_MIN_LOG) / (AXIS_MAX_LOG - AXIS_MIN_LOG)) * PLOT_PX;
}

/** The chart as an SVG document. `title` and `subtitle` head it. */
export function renderChart(rows: readonly Row[], engines: readonly EngineName[], title: string, subtitle: string): string {
  const groupPx = engines.length * BAR_PX + GROUP_GAP_PX;
  const height = TOP_PX + rows.length * groupPx + 40;
  const width = LABEL_PX + PLOT_PX + VALUE_PX;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="34" fill="#555">${escape(subtitle)}</text>`,
  ];
  engines.forEach((e, i) => {
    const x = LABEL_PX + i * 150;
    out.push(`<rect x="${x}" y="44" width="12" height="10" fill="${COLORS[e]}"/>`, `<text x="${x + 16}" y="53">${e}</text>`);
  });
  for (let log = AXIS_MIN_LOG; log <= AXIS_MAX_LOG; log++) {
    const x = LABEL_PX + ((log - AXIS_MIN_LOG) / (AXIS_MAX_LOG - AXIS_MIN_LOG)) * PLOT_PX;
    out.push(`<line x1="${x}" y1="${TOP_PX - 6}" x2="${x}" y2="${height - 30}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${height - 16}" text-anchor="middle" fill="#555">${AXIS_LABELS[log - AXIS_MIN_LOG]}</text>`);
  }
  out.push(`<text x="${LABEL_PX + PLOT_PX / 2}" y="${height - 3}" text-anchor="middle" fill="#555">operations per second (log scale)</text>`);
  rows.forEach((row, g) => {
    const y0 = TOP_PX + g * groupPx;
    out.push(`<text x="${LABEL_PX - 8}" y="${y0 + (engines.length * BAR_PX) / 2 + 4}" text-anchor="end">${escape(`${row.workload} (${row.mode})`)}</text>`);
    engines.forEach((e, i) => {
      const r = row.byEngine[e];
      if (!r) return;
      const y = y0 + i * BAR_PX;
      const w = barWidth(r.opsPerSec);
      out.push(`<rect x="${LABEL_PX}" y="${y}" width="${w.toFixed(1)}" height="${BAR_PX - 2}" fill="${COLORS[e]}"/>`);
      out.push(`<text x="${LABEL_PX + w + 4}" y="${y + BAR_PX - 3}" fill="#333">${shortNumber(r.opsPerSec)}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
