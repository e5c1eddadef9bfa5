/**
 * abstract-level's own test suite (node_modules/abstract-level/test) run against
 * DistribkvLevel through tape, as every Level implementation runs it: `suite({ test, factory })`.
 * Prints TAP to stdout. Run alone with `node --import tsx test/abstract-level/suite.ts`;
 * level-suite.test.ts runs it under `npm test` and checks the outcome.
 *
 * Each database lives in its own directory under one temporary directory in os.tmpdir(), which
 * is removed when tape finishes. The factory hands out paths that do not exist yet, because
 * the suite checks that createIfMissing: false refuses to create one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DistribkvLevel, type DistribkvLevelOptions } from '../../engine/level.ts';

type Test = ((name: string, fn: (...args: unknown[]) => unknown) => void) & { onFinish(fn: () => void): void };

const require = createRequire(import.meta.url);
const test = require('tape') as Test;
const suite = require('abstract-level/test') as (options: { test: Test; factory: (options?: DistribkvLevelOptions) => DistribkvLevel }) => void;

const root = mkdtempSync(join(tmpdir(), 'distribkv-abstract-level-'));
let databases = 0;
const removeRoot = () => rmSync(root, { recursive: true, force: true });
test.onFinish(removeRoot);
process.on('exit', removeRoot);

suite({
  test,
  factory: (options?: DistribkvLevelOptions) => new DistribkvLevel(join(root, `db-${++databases}`), options),
});
