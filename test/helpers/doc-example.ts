/**
 * The worked examples in docs/formats/*.md, read back for the tests that check them against
 * the bytes the code writes: a block between `<!-- NAME:begin -->` and `<!-- NAME:end -->`,
 * fenced, each line starting with hex bytes (two digits, single spaces) and then, after two or
 * more spaces, an annotation.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** The hex bytes at the start of each line of the doc's `name` example block, concatenated. */
export function exampleHexInDoc(doc: URL, name: string): string {
  const text = readFileSync(doc, 'utf8');
  const block = new RegExp(`<!-- ${name}:begin -->\\n\`\`\`\\n([\\s\\S]*?)\`\`\`\\n<!-- ${name}:end -->`).exec(text);
  assert.ok(block, `${doc.pathname} has a ${name} block`);
  let out = '';
  for (const line of block[1]!.split('\n')) {
    // Leading byte tokens: two hex digits each, single-space separated; the annotation follows.
    const bytes = /^((?:[0-9a-f]{2} )*[0-9a-f]{2})(?: {2,}|$)/.exec(line.trimStart());
    if (bytes) out += bytes[1]!.replaceAll(' ', '');
  }
  return out;
}
