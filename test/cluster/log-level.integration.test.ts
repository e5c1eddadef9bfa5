/**
 * The node's log level on real processes: `--log-level` and DISTRIBKV_LOG_LEVEL choose it,
 * the flag wins, debug lines appear only at debug or below, per-request lines only at trace,
 * and a level that does not exist stops the node with exit code 2.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, NodeProcess, type TestCluster } from '../helpers/cluster-harness.ts';
import { rawRequest } from '../helpers/http.ts';

interface Line {
  level: string;
  message: string;
  [field: string]: unknown;
}

function lines(node: NodeProcess): Line[] {
  return node.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

describe('the node log level', () => {
  let cluster: TestCluster | undefined;
  const addresses: string[] = [];
  after(() => cluster?.close());
  before(async () => {
    cluster = await startCluster({ shards: 5, controllers: 1, deferred: (s) => [s.leader] });
    addresses.push(...cluster.shards.map((s) => s.leader));
  });

  /**
   * Starts the node at `addresses[i]` with these arguments and environment, sends it two
   * requests, stops it. The key's shard may be another (307) or this one (404): either way the
   * request is routed as GET /kv/{key}.
   */
  async function runNode(i: number, args: string[], env: Record<string, string> = {}): Promise<Line[]> {
    const address = addresses[i]!;
    const node = NodeProcess.spawn(cluster!.configPath, address, cluster!.dataDir(address), env, args);
    cluster!.nodes.set(address, node);
    await node.waitHealthy();
    assert.equal((await rawRequest(address, 'GET', '/cluster')).status, 200);
    assert.ok([307, 404].includes((await rawRequest(address, 'GET', '/kv/greeting')).status));
    assert.equal((await node.stop()).code, 0);
    return lines(node);
  }

  it('writes info lines and no debug or per-request line by default', async () => {
    const log = await runNode(0, []);
    assert.ok(log.some((l) => l.level === 'info' && l.message === 'node listening'));
    assert.ok(log.some((l) => l.message === 'stopped cleanly'));
    assert.deepEqual(log.filter((l) => l.level === 'debug' || l.level === 'trace'), []);
    assert.ok(log.every((l) => typeof l.time === 'string' && typeof l.pid === 'number'), 'every line has its time and pid');
  });

  it('writes debug lines at --log-level debug, still no per-request line', async () => {
    const log = await runNode(1, ['--log-level', 'debug']);
    assert.ok(log.some((l) => l.level === 'debug' && l.message === 'config loaded'));
    assert.ok(log.some((l) => l.message === 'node listening'));
    assert.deepEqual(log.filter((l) => l.level === 'trace'), []);
  });

  it('writes one line per request at trace', async () => {
    const log = await runNode(2, ['--log-level', 'trace']);
    const requests = log.filter((l) => l.level === 'trace' && l.message === 'request');
    assert.ok(requests.some((l) => l.method === 'GET' && l.route === '/cluster' && l.status === 200));
    assert.ok(requests.some((l) => l.method === 'GET' && l.route === '/kv/{key}' && (l.status === 307 || l.status === 404)));
  });

  it('takes the level from DISTRIBKV_LOG_LEVEL, and the flag over it', async () => {
    const fromEnv = await runNode(3, [], { DISTRIBKV_LOG_LEVEL: 'warn' });
    assert.deepEqual(fromEnv.filter((l) => l.level === 'info' || l.level === 'debug'), [], 'warn hides info and debug');
    const flagWins = await runNode(4, ['--log-level', 'debug'], { DISTRIBKV_LOG_LEVEL: 'warn' });
    assert.ok(flagWins.some((l) => l.level === 'debug'));
  });

  it('refuses a level that does not exist with exit code 2', async () => {
    const node = NodeProcess.spawn(cluster!.configPath, addresses[0]!, cluster!.dataDir(addresses[0]!), {}, ['--log-level', 'chatty']);
    const exit = await node.exited();
    assert.equal(exit.code, 2);
    assert.match(node.stderr, /log level must be one of trace, debug, info, warn, error, silent, got \\"chatty\\"/);
  });
});
