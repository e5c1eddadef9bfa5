/**
 * The cluster benchmark as an SVG chart: for each workload and mode (and network, with
 * `--hosts`), two horizontal bars on one linear scale, distribKV's ops/s and the bare server's
 * (the ceiling), with the ratio and both p99 latencies written beside them. Hand-written SVG,
 * no dependencies.
 */
import type { Row } from './report.ts';

const OURS_COLOR = '#d9480f';
const CEILING_COLOR = '#adb5bd';
const BAR_PX = 13;
const GROUP_GAP_PX = 14;
const LABEL_PX = 250;
const PLOT_PX = 520;
const NOTE_PX = 250;
const TOP_PX = 72;
const TICKS = 6;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function shortNumber(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

/** A round axis maximum at or above `x`, divisible into TICKS round steps. */
function niceMax(x: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(1, x)));
  return ([1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((m) => m * power >= x) ?? 10) * power;
}

export function renderChart(rows: readonly Row[], title: string, subtitle: string): string {
  const groupPx = 2 * BAR_PX + GROUP_GAP_PX;
  const height = TOP_PX + rows.length * groupPx + 40;
  const width = LABEL_PX + PLOT_PX + NOTE_PX;
  const max = niceMax(Math.max(1, ...rows.flatMap((r) => [r.ours.opsPerSec, r.ceiling.opsPerSec])));
  const x = (value: number) => LABEL_PX + (value / max) * PLOT_PX;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="34" fill="#555">${escape(subtitle)}</text>`,
    `<rect x="${LABEL_PX}" y="46" width="12" height="10" fill="${OURS_COLOR}"/><text x="${LABEL_PX + 16}" y="55">distribKV</text>`,
    `<rect x="${LABEL_PX + 110}" y="46" width="12" height="10" fill="${CEILING_COLOR}"/><text x="${LABEL_PX + 126}" y="55">ceiling: bare node:http, same load</text>`,
  ];
  for (let i = 0; i <= TICKS; i++) {
    const value = (max * i) / TICKS;
    out.push(`<line x1="${x(value)}" y1="${TOP_PX - 6}" x2="${x(value)}" y2="${height - 30}" stroke="#e9ecef"/>`);
    out.push(`<text x="${x(value)}" y="${height - 16}" text-anchor="middle" fill="#555">${shortNumber(value)}</text>`);
  }
  out.push(`<text x="${LABEL_PX + PLOT_PX / 2}" y="${height - 3}" text-anchor="middle" fill="#555">requests per second</text>`);
  rows.forEach((row, g) => {
    const y = TOP_PX + g * groupPx;
    out.push(`<text x="${LABEL_PX - 8}" y="${y + BAR_PX + 4}" text-anchor="end">${escape(`${row.title} (${row.mode}${row.network === 'hosts' ? ', hosts' : ''})`)}</text>`);
    out.push(`<rect x="${LABEL_PX}" y="${y}" width="${x(row.ours.opsPerSec) - LABEL_PX}" height="${BAR_PX - 2}" fill="${OURS_COLOR}"/>`);
    out.push(`<rect x="${LABEL_PX}" y="${y + BAR_PX}" width="${x(row.ceiling.opsPerSec) - LABEL_PX}" height="${BAR_PX - 2}" fill="${CEILING_COLOR}"/>`);
    const p99 = (us: number) => (us / 1000).toFixed(1);
    out.push(`<text x="${LABEL_PX + PLOT_PX + 8}" y="${y + 10}">${shortNumber(row.ours.opsPerSec)}/s · ${row.ratio.toFixed(2)}x · p99 ${p99(row.ours.latencyUs.p99)} ms</text>`);
    out.push(`<text x="${LABEL_PX + PLOT_PX + 8}" y="${y + BAR_PX + 10}" fill="#555">${shortNumber(row.ceiling.opsPerSec)}/s · p99 ${p99(row.ceiling.latencyUs.p99)} ms</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
