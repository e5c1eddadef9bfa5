/**
 * Builds the CLI: net/cli.ts and everything it imports, bundled by esbuild into one plain
 * JavaScript file, dist/kv.mjs, with the list of the source files it came from beside it
 * (dist/kv.inputs.json), so bin/kv can tell when it is stale. Runs at `npm install` (the
 * `prepare` script) and whenever bin/kv finds the bundle missing or older than a source.
 * docs/decisions.md says why a bundle: it starts in a tenth of the time tsx takes.
 *
 *   node bin/build-kv.mjs        (or: npm run build:kv)
 *
 * Native addons and packages with optional native parts stay outside the bundle, loaded from
 * node_modules as usual. The bundle is written to a temporary name and renamed, so a CLI
 * starting at the same moment never reads half a file.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Builds dist/kv.mjs; resolves once it is in place. */
export async function buildKv() {
  const { build } = await import('esbuild');
  const dist = path.join(root, 'dist');
  mkdirSync(dist, { recursive: true });
  const temporary = path.join(dist, `kv.${process.pid}.tmp.mjs`);
  const result = await build({
    entryPoints: [path.join(root, 'net/cli.ts')],
    outfile: temporary,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['xxhash-addon', 'msgpackr', '@node-rs/crc32'],
    metafile: true,
    logLevel: 'silent',
    banner: { js: '// Built by bin/build-kv.mjs from net/cli.ts; do not edit (edit the sources, bin/kv rebuilds).' },
  });
  const inputs = Object.keys(result.metafile.inputs).filter((file) => !file.includes('node_modules/'));
  writeFileSync(path.join(dist, 'kv.inputs.json'), `${JSON.stringify(inputs)}\n`);
  renameSync(temporary, path.join(dist, 'kv.mjs'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildKv().catch((error) => {
    process.stderr.write(`build-kv: ${error.message.split('\n')[0]}\n`);
    process.exit(1);
  });
}
