/**
 * The layers' import rules, read from the source: the client library reaches only net/ and
 * protocol/ (so a program that talks to a cluster never loads the storage engine or the node),
 * protocol/ imports nothing of the other folders, and the engine imports nothing of cluster/,
 * net/ or protocol/ but its CRC-32C.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** Every project file `entry` reaches through relative imports (static and dynamic), as paths from the root. */
function closure(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [path.join(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    const relative = path.relative(ROOT, file);
    if (seen.has(relative)) continue;
    seen.add(relative);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(IMPORT)) todo.push(path.resolve(path.dirname(file), match[1] ?? match[2]!));
  }
  return seen;
}

const outside = (files: Set<string>, allowed: readonly string[]) => [...files].filter((f) => !allowed.some((folder) => f.startsWith(`${folder}/`)));

describe('import closures', () => {
  it('the client library and the CLI reach only net/ and protocol/, never the engine', () => {
    for (const entry of ['net/index.ts', 'net/client.ts', 'net/cli.ts']) {
      const files = closure(entry);
      assert.ok(files.has('protocol/ring.ts'), `${entry} should reach the ring (the walk found ${files.size} files)`);
      assert.deepEqual(outside(files, ['net', 'protocol']), [], `${entry} reaches files outside net/ and protocol/`);
    }
  });

  it('protocol/ imports nothing outside itself', () => {
    const files = closure('protocol/index.ts');
    assert.ok(files.size >= 10, `the walk found only ${files.size} files`);
    assert.deepEqual(outside(files, ['protocol']), []);
  });

  it('the engine imports nothing of cluster/ or net/, and of protocol/ only its CRC-32C', () => {
    const files = closure('engine/index.ts');
    assert.ok(files.size >= 40, `the walk found only ${files.size} files`);
    assert.deepEqual(outside(files, ['engine']), ['protocol/crc32c.ts']);
  });
});
