/**
 * Data-driven tests in the style of Pebble's datadriven package: a text file of cases,
 *
 *   command arg1 arg2=value
 *   input line (optional, any number)
 *   ----
 *   expected output
 *   <blank line>
 *
 * Lines starting with `#` between cases are comments. `run` calls `handler` for each case in
 * order (so cases can build state) and compares its output. With REWRITE=1 in the
 * environment it writes the actual outputs back into the file instead of comparing.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';

export interface Case {
  command: string;
  args: string[];
  /** `name=value` arguments. */
  named: Map<string, string>;
  input: string[];
  line: number;
}

interface ParsedCase extends Case {
  header: string[];
  expected: string;
}

export function runDataDriven(path: string, handler: (c: Case) => string): void {
  const cases = parse(readFileSync(path, 'utf8'));
  const rewrite = process.env['REWRITE'] === '1';
  let failure: Error | undefined;
  const actuals: string[] = [];
  for (const c of cases) {
    try {
      actuals.push(failure ? c.expected : handler(c).replace(/\n+$/, ''));
    } catch (error) {
      failure = new Error(`${path}:${c.line}: ${c.command} ${c.args.join(' ')}: ${(error as Error).message}`, { cause: error });
      // A rewrite still writes what ran, with the error in place of the failing case's output.
      actuals.push(`error: ${(error as Error).message}`);
      if (!rewrite) throw failure;
    }
  }
  if (rewrite) {
    writeFileSync(path, cases.map((c, i) => `${c.header.join('\n')}\n----\n${actuals[i]}\n`).join('\n'));
    if (failure) throw failure;
    return;
  }
  cases.forEach((c, i) => assert.equal(actuals[i], c.expected, `${path}:${c.line}: ${c.command} ${c.args.join(' ')}`));
}

function parse(text: string): ParsedCase[] {
  const lines = text.split('\n');
  const cases: ParsedCase[] = [];
  let i = 0;
  while (i < lines.length) {
    const header: string[] = [];
    // Comments and blank lines before a case belong to its header, so a rewrite keeps them.
    while (i < lines.length && (lines[i]!.trim() === '' || lines[i]!.startsWith('#'))) header.push(lines[i++]!);
    if (i >= lines.length) break;
    const line = i + 1;
    const [command, ...words] = lines[i]!.trim().split(/\s+/);
    header.push(lines[i++]!);
    const input: string[] = [];
    while (i < lines.length && lines[i] !== '----') {
      input.push(lines[i]!);
      header.push(lines[i++]!);
    }
    if (i >= lines.length) throw new Error(`line ${line}: case without "----"`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') expected.push(lines[i++]!);
    const named = new Map(words.filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] as [string, string]));
    cases.push({ command: command!, args: words.filter((w) => !w.includes('=')), named, input, line, header: trimLeadingBlank(header, cases.length), expected: expected.join('\n') });
  }
  return cases;
}

function trimLeadingBlank(header: string[], index: number): string[] {
  // The blank separator between cases is written by the rewriter; keep only comments.
  let start = 0;
  while (start < header.length && header[start]!.trim() === '' && index > 0) start++;
  return header.slice(start);
}
