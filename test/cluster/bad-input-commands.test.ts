/**
 * Every user-facing command, given bad input, says what is wrong in one line on stderr, with no
 * stack, and exits with its documented code: 2 for a mistake in the command line or the config,
 * 1 for a failure at run time (3 for corruption, from the engine tools). The commands: npm
 * start's script (cluster/start-local.ts), a node (cluster/node.ts), the CLI (bin/kv) and the
 * engine tools (lsm-dump, sst-dump). A node's stderr is its JSON log, so its line is parsed and
 * its message checked. `--help` of each exits 0.
 *
 * The processes run directly (node --import tsx …, or bin/kv), a few at a time, each bounded.
 * Some cases need something real to fail against: a port held by this test, a data directory
 * whose engine this test holds open, and a one-node cluster for the CLI's runtime refusals.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Db, NodeFileSystem } from '../../engine/index.ts';
import { COMMANDS } from '../../net/cli/main.ts';
import { ValueKind } from '../../engine/internal-key.ts';
import { TableBuilder } from '../../engine/sst/table-builder.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';
import { freePorts } from '../helpers/free-ports.ts';
import { ROOT, runKv, runNode, type CommandResult } from '../helpers/run-command.ts';

const TOOL_WAIT_MS = 120_000;
const AT_ONCE = 4;

type Program = 'start' | 'node' | 'kv' | 'lsm-dump' | 'sst-dump';

interface Case {
  name: string;
  program: Program;
  args: (f: Fixture) => string[];
  code: number;
  /** What the one line must say. */
  says: RegExp;
  input?: string;
  /** The directory it runs in (default: the repository's root). */
  cwd?: (f: Fixture) => string;
}

/** What the cases point at, made once in `before`. */
interface Fixture {
  dir: string;
  missing: string;
  badToml: string;
  epochToml: string;
  /** A config whose only node's port this test holds. */
  busyToml: string;
  busyNode: string;
  /** A config for one free port, and a data directory whose engine this test holds open. */
  freeToml: string;
  freeNode: string;
  lockedData: string;
  /** A file standing where a directory should be. */
  aFile: string;
  badJson: string;
  badNdjson: string;
  getBatch: string;
  tokenFile: string;
  cluster: string;
  deadNode: string;
}

const CASES: Case[] = [
  // npm start (cluster/start-local.ts)
  { name: 'npm start with a config that does not exist', program: 'start', args: (f) => ['--config', f.missing], code: 2, says: /cannot read the config file/ },
  { name: 'npm start with a config that is not TOML', program: 'start', args: (f) => ['--config', f.badToml], code: 2, says: /not valid TOML at line 1/ },
  { name: 'npm start with a config using a removed setting', program: 'start', args: (f) => ['--config', f.epochToml], code: 2, says: /cluster\.epoch is gone.*remove the line/ },
  { name: 'npm start with an unknown flag', program: 'start', args: () => ['--bogus'], code: 2, says: /Unknown option '--bogus'.*usage: npm start/ },
  { name: 'npm start with a flag missing its value', program: 'start', args: () => ['--restart-delay-ms', '-5'], code: 2, says: /argument is ambiguous; .*'--restart-delay-ms=-XYZ'; usage: npm start/ },
  { name: 'npm start with a positional argument', program: 'start', args: () => ['now'], code: 2, says: /usage: npm start/ },
  { name: 'npm start with a negative restart delay', program: 'start', args: () => ['--restart-delay-ms=-5'], code: 2, says: /--restart-delay-ms must be a whole number/ },
  { name: 'npm start when a node\'s port is taken', program: 'start', args: (f) => ['--config', f.busyToml], code: 1, says: /already in use.*stop it/ },
  // a node (cluster/node.ts)
  { name: 'a node without --node', program: 'node', args: () => [], code: 2, says: /--node HOST:PORT is required/ },
  { name: 'a node with an address that is not host:port', program: 'node', args: () => ['--node', 'nonsense'], code: 2, says: /--node must be host:port, got "nonsense"/ },
  { name: 'a node with an unknown flag', program: 'node', args: () => ['--bogus'], code: 2, says: /Unknown option '--bogus'.*--help/ },
  { name: 'a node with an unknown log level', program: 'node', args: () => ['--node', '127.0.0.1:1', '--log-level', 'loud'], code: 2, says: /log level must be one of/ },
  { name: 'a node with a config that does not exist', program: 'node', args: (f) => ['--node', '127.0.0.1:1', '--config', f.missing], code: 2, says: /cannot read the config file/ },
  { name: 'a node with a config that is not TOML', program: 'node', args: (f) => ['--node', '127.0.0.1:1', '--config', f.badToml], code: 2, says: /not valid TOML/ },
  { name: 'a node asked to listen beyond loopback without credentials', program: 'node', args: (f) => ['--node', f.freeNode, '--config', f.freeToml, '--bind', '0.0.0.0'], code: 2, says: /protected mode/ },
  { name: 'a node whose port is taken', program: 'node', args: (f) => ['--node', f.busyNode, '--config', f.busyToml, '--data', path.join(f.dir, 'never')], code: 1, says: /already in use.*another --node/ },
  { name: 'a node whose data directory is under a file', program: 'node', args: (f) => ['--node', f.freeNode, '--config', f.freeToml, '--data', path.join(f.aFile, 'data')], code: 1, says: /is not a directory; pass --data/ },
  { name: 'a node whose data directory another process holds', program: 'node', args: (f) => ['--node', f.freeNode, '--config', f.freeToml, '--data', f.lockedData], code: 1, says: /is in use by another process.*own --data/ },
  // the CLI (bin/kv)
  { name: 'kv without a command', program: 'kv', args: () => [], code: 2, says: /a command is needed: get, put/ },
  { name: 'kv with an unknown command', program: 'kv', args: () => ['fetch', 'k'], code: 2, says: /unknown command "fetch"/ },
  { name: 'kv with an unknown flag', program: 'kv', args: () => ['get', 'k', '--bogus'], code: 2, says: /Unknown option '--bogus'/ },
  { name: 'kv get without a key', program: 'kv', args: () => ['get'], code: 2, says: /get takes 1 argument.*kv get --help/ },
  { name: 'kv get with two keys', program: 'kv', args: () => ['get', 'a', 'b'], code: 2, says: /get takes 1 argument/ },
  { name: 'kv with an option of another command', program: 'kv', args: () => ['get', 'k', '--limit', '3'], code: 2, says: /--limit is not an option of get/ },
  { name: 'kv put with acks that do not exist', program: 'kv', args: () => ['put', 'k', 'v', '--acks', '2'], code: 2, says: /--acks must be 0, 1 or all/ },
  { name: 'kv get with --min-seq but not --replica', program: 'kv', args: () => ['get', 'k', '--min-seq', '5'], code: 2, says: /--min-seq applies to replica reads; add --replica/ },
  { name: 'kv get with a --min-seq that is not a number', program: 'kv', args: () => ['get', 'k', '--replica', '--min-seq', 'x'], code: 2, says: /--min-seq must be a whole number/ },
  { name: 'kv scan with a zero limit', program: 'kv', args: () => ['scan', '--limit', '0'], code: 2, says: /--limit must be a whole number of at least 1/ },
  { name: 'kv scan with two lower bounds', program: 'kv', args: () => ['scan', '--gt', 'a', '--gte', 'b'], code: 2, says: /--gt or --gte, not both/ },
  { name: 'kv with the token on the command line', program: 'kv', args: () => ['--token', 's3cret', 'get', 'k'], code: 2, says: /--token would show the token.*DISTRIBKV_TOKEN/ },
  { name: 'kv with a token file that does not exist', program: 'kv', args: (f) => ['--token-file', f.missing, '--cluster', f.cluster, 'get', 'k'], code: 2, says: /--token-file .*no such file/ },
  { name: 'kv with a config that does not exist', program: 'kv', args: (f) => ['--config', f.missing, 'get', 'k'], code: 2, says: /cannot read the config file/ },
  { name: 'kv where there is no cluster.toml', program: 'kv', args: () => ['get', 'k'], cwd: (f) => f.dir, code: 2, says: /no cluster\.toml here.*--cluster HOST:PORT/ },
  { name: 'kv with an empty --cluster', program: 'kv', args: () => ['--cluster', ',', 'get', 'k'], code: 2, says: /--cluster needs HOST:PORT/ },
  { name: 'kv against a cluster that is not running', program: 'kv', args: (f) => ['--cluster', f.deadNode, 'get', 'k'], code: 1, says: /no node answered.*is the cluster running/ },
  { name: 'kv shard with an action that does not exist', program: 'kv', args: () => ['shard', 'grow', 's9'], code: 2, says: /unknown shard action "grow"/ },
  { name: 'kv shard add without a leader', program: 'kv', args: (f) => ['--cluster', f.cluster, 'shard', 'add', 's9'], code: 2, says: /shard add needs --leader/ },
  { name: 'kv batch of a file that does not exist', program: 'kv', args: (f) => ['--cluster', f.cluster, 'batch', f.missing], code: 2, says: /cannot read .*ENOENT/ },
  { name: 'kv batch of a file that is not a batch', program: 'kv', args: (f) => ['--cluster', f.cluster, 'batch', f.badJson], code: 2, says: /is not UTF-8 JSON|unknown field/ },
  { name: 'kv batch of a file of gets', program: 'kv', args: (f) => ['--cluster', f.cluster, 'batch', f.getBatch], code: 2, says: /a batch of gets; kv batch applies puts and deletes/ },
  { name: 'kv import of a file with a line that is not JSON', program: 'kv', args: (f) => ['--cluster', f.cluster, 'import', f.badNdjson], code: 2, says: /line 2 is not JSON/ },
  { name: 'kv get of a key that does not exist', program: 'kv', args: (f) => ['--cluster', f.cluster, 'get', 'no-such-key'], code: 1, says: /not found: no-such-key/ },
  { name: 'kv transfer of a shard that does not exist', program: 'kv', args: (f) => ['--cluster', f.cluster, 'transfer', 's9'], code: 2, says: /no shard "s9"; the shards are shard-0/ },
  { name: 'kv promote of a node outside the cluster', program: 'kv', args: (f) => ['--cluster', f.cluster, 'promote', f.deadNode], code: 1, says: /is not a node of this cluster/ },
  { name: 'kv transfer of a shard with no replica', program: 'kv', args: (f) => ['--cluster', f.cluster, 'transfer', 'shard-0'], code: 1, says: /NOT_IN_SYNC: cannot hand shard-0 over/ },
  // the engine tools
  { name: 'lsm-dump without a directory', program: 'lsm-dump', args: () => [], code: 2, says: /expected one database directory.*usage: lsm-dump/ },
  { name: 'lsm-dump with an unknown flag', program: 'lsm-dump', args: (f) => ['--bogus', f.dir], code: 2, says: /unknown option "--bogus"/ },
  { name: 'lsm-dump of a directory with no database', program: 'lsm-dump', args: (f) => [f.dir], code: 1, says: /no database in .*CURRENT/ },
  { name: 'sst-dump without a file', program: 'sst-dump', args: () => [], code: 2, says: /expected one file.*usage: sst-dump/ },
  { name: 'sst-dump with an unknown flag', program: 'sst-dump', args: (f) => ['--bogus', f.aFile], code: 2, says: /unknown option "--bogus"/ },
  { name: 'sst-dump of a file that does not exist', program: 'sst-dump', args: (f) => [f.missing], code: 1, says: /no such file: .*missing/ },
  { name: 'sst-dump of a file that is not a table', program: 'sst-dump', args: (f) => [f.aFile], code: 3, says: /CORRUPTION/ },
];

const SCRIPTS: Record<Exclude<Program, 'kv'>, string> = {
  start: 'cluster/start-local.ts',
  node: 'cluster/node.ts',
  'lsm-dump': 'engine/tools/lsm-dump.ts',
  'sst-dump': 'engine/tools/sst-dump.ts',
};

function run(program: Program, args: string[], input?: string, cwd?: string): Promise<CommandResult> {
  if (program === 'kv') return runKv(args, { timeoutMs: TOOL_WAIT_MS, input, cwd });
  return runNode(['--import', 'tsx', path.join(ROOT, SCRIPTS[program]), ...args], { timeoutMs: TOOL_WAIT_MS, input, cwd });
}

/** The line a user reads: a node's is the message of its JSON log line. */
function lineOf(program: Program, stderr: string): string {
  const line = stderr.trim();
  if (program !== 'node') return line;
  const entry = JSON.parse(line) as { level: string; message: string; stack?: string };
  assert.equal(entry.level, 'error');
  assert.equal(entry.stack, undefined, 'no stack in the log line');
  return entry.message;
}

let fixture: Fixture;
let cluster: TestCluster | undefined;
let busy: net.Server | undefined;
let locked: Db | undefined;
const results = new Map<string, CommandResult>();

before(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-bad-input-'));
  const [busyPort, freePort, deadPort] = await freePorts(3);
  busy = net.createServer();
  await new Promise<void>((resolve) => busy!.listen({ host: '127.0.0.1', port: busyPort }, resolve));
  const toml = (node: string) => `[cluster]\n[[shards]]\nname = "s0"\nleader = "${node}"\nreplicas = []\n`;
  fixture = {
    dir, missing: path.join(dir, 'missing'), badToml: path.join(dir, 'bad.toml'), epochToml: path.join(dir, 'epoch.toml'),
    busyToml: path.join(dir, 'busy.toml'), busyNode: `127.0.0.1:${busyPort}`, freeToml: path.join(dir, 'free.toml'), freeNode: `127.0.0.1:${freePort}`,
    lockedData: path.join(dir, 'locked'), aFile: path.join(dir, 'a-file'), badJson: path.join(dir, 'bad.json'), badNdjson: path.join(dir, 'bad.ndjson'),
    getBatch: path.join(dir, 'gets.json'),
    tokenFile: path.join(dir, 'token'), cluster: '', deadNode: `127.0.0.1:${deadPort}`,
  };
  await writeFile(fixture.badToml, '[cluster\nvnodes = 1\n');
  await writeFile(fixture.epochToml, `[cluster]\nepoch = 3\n${toml(fixture.freeNode).slice('[cluster]\n'.length)}`);
  await writeFile(fixture.busyToml, toml(fixture.busyNode));
  await writeFile(fixture.freeToml, toml(fixture.freeNode));
  await writeFile(fixture.aFile, 'not a table, not a directory\n'.repeat(10));
  await writeFile(fixture.badJson, '{"ops": [{"type": "put", "key": "a", "valu": "1"}]}');
  await writeFile(fixture.getBatch, '{"ops": [{"type": "get", "key": "a"}]}');
  await writeFile(fixture.badNdjson, '{"key": "a", "value": "1"}\n{"key": "b", value}\n');
  locked = await Db.open(path.join(fixture.lockedData, 'db'));
  cluster = await startCluster({ shards: 1 });
  fixture.cluster = cluster.shards[0]!.leader;
  // Build the CLI once, so the cases below do not all build it at the same moment.
  const help = await runKv(['--help'], { timeoutMs: TOOL_WAIT_MS });
  assert.equal(help.code, 0, help.stderr);
  // Run every case now, a few at a time; each test below checks one.
  const queue = [...CASES];
  await Promise.all(Array.from({ length: AT_ONCE }, async () => {
    for (let c = queue.shift(); c; c = queue.shift()) results.set(c.name, await run(c.program, c.args(fixture), c.input, c.cwd?.(fixture)));
  }));
});

after(async () => {
  await locked?.close();
  await new Promise<void>((resolve) => (busy ? busy.close(() => resolve()) : resolve()));
  await cluster?.close();
  if (fixture) await rm(fixture.dir, { recursive: true, force: true });
});

describe('bad input to each user-facing command', () => {
  it('covers at least 30 cases across npm start, a node, the CLI and the engine tools', () => {
    assert.ok(CASES.length >= 30, `${CASES.length} cases`);
    assert.deepEqual(new Set(CASES.map((c) => c.program)), new Set(['start', 'node', 'kv', 'lsm-dump', 'sst-dump']));
  });

  for (const c of CASES) {
    it(`${c.name}: one line, no stack, exit ${c.code}`, () => {
      const result = results.get(c.name);
      assert.ok(result, 'the case ran');
      assert.equal(result.timedOut, false, `still running after ${TOOL_WAIT_MS} ms`);
      const detail = `stderr:\n${result.stderr}\nstdout:\n${result.stdout}`;
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line on stderr; ${detail}`);
      assert.doesNotMatch(result.stderr, /\n\s+at |\bat .+:\d+:\d+\)?$/m, `no stack; ${detail}`);
      assert.match(lineOf(c.program, result.stderr), c.says, detail);
      assert.equal(result.code, c.code, `exit code; ${detail}`);
    });
  }

  for (const program of ['start', 'node', 'kv', 'lsm-dump', 'sst-dump'] as const) {
    it(`${program} --help prints its usage and exits 0`, async () => {
      const result = await run(program, ['--help']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /usage: /);
      assert.equal(result.stderr, '');
    });
  }

  it('sst-dump --keys into head -n 1 ends quietly when head closes the pipe: exit 0, nothing on stderr', async () => {
    // Far more output than a pipe holds, so the tool is still writing when head has gone.
    const table = path.join(fixture.dir, '000009.sst');
    const file = new NodeFileSystem().createWritable(table);
    const builder = new TableBuilder(file, { blockBytes: 4096 });
    for (let i = 0; i < 20_000; i++) builder.add(new TextEncoder().encode(`key:${String(i).padStart(6, '0')}`), i + 1, ValueKind.Put, new TextEncoder().encode('value'));
    builder.finish();
    file.close();
    const script = 'set -o pipefail; node --import tsx engine/tools/sst-dump.ts --keys "$1" | head -n 1';
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile('bash', ['-c', script, 'bash', table], { cwd: ROOT, timeout: TOOL_WAIT_MS }, (error, out, err) => (error ? reject(new Error(`${error.message}; stderr: ${err}`)) : resolve({ stdout: out, stderr: err })));
    });
    assert.equal(stdout.split('\n').length, 2, stdout);
    assert.equal(stderr, '');
  });

  it('every kv command has --help: its usage on stdout, exit 0, and kv --help lists it', async () => {
    const overall = await runKv(['--help'], { timeoutMs: TOOL_WAIT_MS });
    for (const name of COMMANDS.keys()) {
      const result = await runKv([name, '--help'], { timeoutMs: TOOL_WAIT_MS });
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.equal(result.stderr, '', name);
      assert.match(result.stdout, new RegExp(`^usage: kv ${name}\\b`), name);
      assert.match(overall.stdout, new RegExp(`^  ${name}\\b`, 'm'), `kv --help lists ${name}`);
    }
  });

  // util-linux's script(1) gives the CLI a terminal for its stdin, as a user typing the command has.
  const noScript = existsSync('/usr/bin/script') ? false : 'no /usr/bin/script (util-linux) to give the CLI a terminal';
  it('kv put KEY without a value, on a terminal, says what is missing instead of waiting: exit 2', { skip: noScript }, async () => {
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(ROOT, 'bin', 'kv'))} --cluster ${fixture.cluster} put some-key`;
    const result = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      execFile('/usr/bin/script', ['-qec', command, '/dev/null'], { cwd: ROOT, timeout: TOOL_WAIT_MS }, (error, out) => {
        if (error && error.killed) reject(new Error(`still waiting after ${TOOL_WAIT_MS} ms: ${out}`));
        else resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out });
      });
    });
    assert.match(result.out, /^kv: put needs a VALUE, or the value on stdin \(kv put KEY < FILE\); see kv put --help\r?\n$/);
    assert.equal(result.code, 2);
  });
});
