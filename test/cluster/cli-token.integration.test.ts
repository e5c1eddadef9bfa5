/**
 * The command-line client's token (issue 16, finding 13): taken from DISTRIBKV_TOKEN or a
 * file named by --token-file, never from the command line, where every user of the machine
 * can read it in the process list. One real node under `auth = "all"`, so that every data
 * request needs the token; the CLI runs as its own process, as a user would run it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';

const TOKEN = 'cli-token-0123456789abcdef';

describe('the kv command line and its token', () => {
  let cluster: TestCluster | undefined;
  let dir = '';
  after(async () => {
    await cluster?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  before(async () => {
    cluster = await startCluster({ shards: 1, clusterToml: `token = "${TOKEN}"\ninternal_token = "cli-internal-0123456789abcdef"\nauth = "all"` });
    dir = await mkdtemp(path.join(os.tmpdir(), 'distribkv-cli-'));
  });

  /** Runs the CLI to its exit; the node is the only address it is given. */
  const kv = (args: string[], env: Record<string, string> = {}) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'net/cli.ts', '--cluster', cluster!.shards[0]!.leader, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DISTRIBKV_TOKEN: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });

  it('takes the token from a file named by --token-file', async () => {
    const file = path.join(dir, 'token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    const put = await kv(['--token-file', file, 'put', 'from-file', 'yes']);
    assert.equal(put.code, 0, put.stderr);
    const get = await kv(['--token-file', file, 'get', 'from-file']);
    assert.equal(get.stdout, 'yes');
  });

  it('takes the token from DISTRIBKV_TOKEN', async () => {
    const get = await kv(['get', 'from-file'], { DISTRIBKV_TOKEN: TOKEN });
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'yes');
  });

  it('refuses --token with a message saying where the token goes instead, and sends nothing', async () => {
    const refused = await kv(['--token', TOKEN, 'put', 'from-argv', 'no']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--token would show the token .*DISTRIBKV_TOKEN or pass --token-file/);
    const get = await kv(['get', 'from-argv'], { DISTRIBKV_TOKEN: TOKEN });
    assert.equal(get.code, 1, 'nothing was written');
  });

  it('names the file when --token-file cannot be read, and is refused by the node without a token', async () => {
    const missing = await kv(['--token-file', path.join(dir, 'absent'), 'get', 'x']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--token-file ".*absent"/);
    const none = await kv(['get', 'from-file']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /UNAUTHORIZED/);
  });
});
