/**
 * Shared by the component micro-benchmarks (benny): data generation, the benny settings, and
 * a per-item summary. A benny "op" is one call of a case, which usually handles many items
 * (keys, probes, bytes), so each case says how many and the summary divides.
 */
import b from 'benny';
import { pathToFileURL } from 'node:url';

/** Short runs: these guide tuning, they are not the engine benchmark. */
export const BENNY_CONFIG = b.configure({ cases: { minSamples: 10, maxTime: 2 } });

/** A seeded generator (mulberry32), so every run measures the same data. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** db_bench's key shape: the index in decimal, zero-padded to 16 digits. */
export function decimalKey(i: number): Uint8Array {
  return new TextEncoder().encode(String(i).padStart(16, '0'));
}

export interface CaseSize {
  /** The case's name, as given to b.add. */
  name: string;
  /** Items one call handles. */
  items: number;
  /** What an item is, e.g. "insert" or "byte". */
  unit: string;
}

/** Prints time per item for each case of a finished suite. */
export function printPerItem(summary: { results: Array<{ name: string; ops: number }> }, sizes: readonly CaseSize[]): void {
  for (const s of sizes) {
    const r = summary.results.find((x) => x.name === s.name);
    if (!r) continue;
    const ns = 1e9 / (r.ops * s.items);
    const rate = s.unit === 'byte' ? `${((r.ops * s.items) / 1e6).toFixed(0)} MB/s` : `${Math.round(r.ops * s.items).toLocaleString('en-US')} per second`;
    console.log(`  ${s.name}: ${ns < 10 ? ns.toFixed(2) : ns.toFixed(0)} ns per ${s.unit} (${rate})`);
  }
}

/** Whether `metaUrl` (import.meta.url) is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === metaUrl;
}

/** A sink the optimizer cannot prove unused. */
export const sink = { value: 0 };
