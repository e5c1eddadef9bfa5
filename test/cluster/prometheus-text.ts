/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it
 * throws on any line that is not a comment, a HELP or TYPE line, or a well-formed sample, and
 * on a sample whose metric family has no TYPE line before it. Returns every sample.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Family name to its type (counter, gauge, histogram, summary, untyped). */
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const parts = line.split(' ');
      if (parts[1] === 'TYPE') {
        if (!NAME.test(parts[2] ?? '') || !TYPES.has(parts[3] ?? '') || parts.length !== 4) throw new Error(`bad TYPE ${where}`);
        types.set(parts[2]!, parts[3]!);
      } else if (parts[1] === 'HELP' && !NAME.test(parts[2] ?? '')) throw new Error(`bad HELP ${where}`);
      return;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample: ${where}`);
    const name = match[1]!;
    if (familyOf(name, types) === undefined) throw new Error(`sample of a family without a TYPE: ${where}`);
    samples.push({ name, labels: parseLabels(match[2] ?? '', where), value: parseValue(match[3]!, where) });
  });
  return { types, samples };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const suffix = SUFFIXES.find((s) => name.endsWith(s));
  const family = suffix === undefined ? undefined : name.slice(0, -suffix.length);
  return family !== undefined && types.has(family) ? family : undefined;
}

function parseValue(text: string, where: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`bad value ${JSON.stringify(text)} on ${where}`);
  return value;
}

/** `{a="x",b="y\"z"}` to an object; values may hold the escapes \\, \" and \n. */
function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === '') return labels;
  let at = 1;
  while (at < text.length - 1) {
    const eq = text.indexOf('=', at);
    const name = text.slice(at, eq);
    if (eq < 0 || !LABEL_NAME.test(name) || text[eq + 1] !== '"') throw new Error(`bad label at ${at} on ${where}`);
    let value = '';
    let i = eq + 2;
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        const next = text[++i];
        if (next !== '\\' && next !== '"' && next !== 'n') throw new Error(`bad escape on ${where}`);
        value += next === 'n' ? '\n' : next;
      } else value += text[i];
    }
    if (i >= text.length) throw new Error(`unterminated label value on ${where}`);
    labels[name] = value;
    at = i + 1;
    if (text[at] === ',') at++;
  }
  if (text[text.length - 1] !== '}') throw new Error(`labels not closed on ${where}`);
  return labels;
}

/** The samples named `name` whose labels include every pair in `labels`. */
export function find(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
