/**
 * cluster.toml validation: the shipped default parses, and each kind of mistake is refused
 * with CONFIG_INVALID and a message that names the field and quotes the value.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { ClusterError, DEFAULT_LIMITS, DEFAULT_REPLICATION, parseConfig, Topology } from '../../cluster/index.ts';
import { nodeStateFor } from '../../cluster/node-state.ts';

const SHARD = '[[shards]]\nname = "s0"\nleader = "127.0.0.1:7001"\nreplicas = ["127.0.0.1:7101"]\n';
const parse = (text: string, envToken?: string) => parseConfig(text, { source: 'test.toml', envToken });

describe('parseConfig', () => {
  it('accepts the default cluster.toml: 3 shards, each a leader and one replica', async () => {
    const config = parseConfig(await readFile(new URL('../../cluster.toml', import.meta.url), 'utf8'), { source: 'cluster.toml' });
    assert.equal(config.shards.length, 3);
    assert.ok(config.shards.every((s) => s.replicas.length === 1));
    assert.equal(config.vnodes, 128);
    assert.equal(config.token, undefined);
    assert.equal(config.limits.valueBytesMax, 16 * 1024 * 1024);
  });

  it('picks controllers by default: the leaders in file order, then replicas, three of them', () => {
    const three = parse(`${SHARD}${SHARD.replace('s0', 's1').replace('7001', '7002').replace('7101', '7102')}`);
    assert.deepEqual(three.controllers, ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7101']);
    assert.deepEqual(parse(SHARD).controllers, ['127.0.0.1:7001'], 'two nodes: one controller (an even count adds nothing)');
    const listed = parse(`[cluster]\ncontrollers = ["127.0.0.1:7101", "127.0.0.1:7001", "10.0.0.9:1"]\n${SHARD}`);
    assert.deepEqual(listed.controllers, ['127.0.0.1:7101', '127.0.0.1:7001', '10.0.0.9:1'], 'listed ones are kept in order, a controller outside the shards too');
  });

  it('fills defaults and canonicalises addresses', () => {
    const config = parse('[[shards]]\nname = "a"\nleader = "LOCALHOST:80"\n');
    assert.equal(config.vnodes, 128);
    assert.deepEqual(config.controllers, ['localhost:80'], 'one node: one controller');
    assert.equal(config.authScope, 'internal');
    assert.deepEqual(config.limits, DEFAULT_LIMITS);
    assert.deepEqual(config.shards, [{ name: 'a', leader: 'localhost:80', replicas: [] }]);
  });

  it('reads the [replication] table and fills its defaults', () => {
    assert.deepEqual(parse(SHARD).replication, DEFAULT_REPLICATION);
    const config = parse(`[replication]\nacks = "all"\nmin_insync = 2\nreplica_lag_max_ms = 800\nfollower_sync = true\n${SHARD}`);
    assert.equal(config.replication.acksDefault, 'all');
    assert.equal(config.replication.minInsync, 2);
    assert.equal(config.replication.replicaLagMaxMs, 800);
    assert.equal(config.replication.followerSync, true);
    assert.equal(parse(`[replication]\nacks = 0\n${SHARD}`).replication.acksDefault, 0);
  });

  it('takes the internal token from DISTRIBKV_INTERNAL_TOKEN over the file, apart from the token', () => {
    const config = parseConfig(`[cluster]\nauth = "all"\ntoken = "client-token-0123456789"\ninternal_token = "file-internal-0123456789"\n${SHARD}`, { source: 'test.toml', envInternalToken: 'env-internal-0123456789' });
    assert.equal(config.token, 'client-token-0123456789');
    assert.equal(config.internalToken, 'env-internal-0123456789');
  });

  it('takes the token from DISTRIBKV_TOKEN over the file', () => {
    const config = parse(`[cluster]\ntoken = "file-token-0123456789"\n${SHARD}`, 'env-token-0123456789');
    assert.equal(config.token, 'env-token-0123456789');
  });

  const cases: [string, string, RegExp][] = [
    ['not TOML', 'shards = [', /not valid TOML at line 1/],
    ['no shards', '[cluster]\nvnodes = 8\n', /no \[\[shards\]\]/],
    ['shards not tables', 'shards = [1]', /shards\[0\] must be a table/],
    ['a shard without a leader', '[[shards]]\nname = "a"\n', /shards\[0\] \("a"\) has no leader/],
    ['a malformed address', '[[shards]]\nname = "a"\nleader = "127.0.0.1"\n', /shards\[0\]\.leader must be "host:port".*got "127\.0\.0\.1"/],
    ['a port out of range', '[[shards]]\nname = "a"\nleader = "127.0.0.1:70000"\n', /got "127\.0\.0\.1:70000"/],
    ['a malformed replica', `${SHARD.replace('"127.0.0.1:7101"', '"nope"')}`, /shards\[0\]\.replicas\[0\] must be "host:port".*got "nope"/],
    ['duplicate shard names', `${SHARD}${SHARD.replace(/7001/g, '7002').replace(/7101/g, '7102')}`, /shards\[1\]\.name "s0" is used by two shards/],
    ['a duplicate address', `${SHARD}${SHARD.replace('s0', 's1').replace('7001', '7101').replace('7101"]', '7102"]')}`, /address "127\.0\.0\.1:7101" is used twice/],
    ['the same address spelt twice', '[[shards]]\nname = "a"\nleader = "localhost:1"\nreplicas = ["LocalHost:1"]\n', /"localhost:1" is used twice/],
    ['a bad shard name', '[[shards]]\nname = "a b"\nleader = "h:1"\n', /shards\[0\]\.name must be .* got "a b"/],
    ['vnodes out of range', `[cluster]\nvnodes = 0\n${SHARD}`, /cluster\.vnodes must be an integer in \[1, 4096\], got 0/],
    ['vnodes not an integer', `[cluster]\nvnodes = "many"\n${SHARD}`, /cluster\.vnodes .* got "many"/],
    ['a short token', `[cluster]\ntoken = "short"\n${SHARD}`, /cluster\.token must be 16-1024 bytes, got 5/],
    ['auth "all" without a token', `[cluster]\nauth = "all"\n${SHARD}`, /needs a token/],
    ['auth "all" without an internal token', `[cluster]\nauth = "all"\ntoken = "client-token-0123456789"\n${SHARD}`, /cluster\.auth = "all" hands the token to clients, so the nodes need their own credential: set cluster\.internal_token or DISTRIBKV_INTERNAL_TOKEN/],
    ['an internal token equal to the token', `[cluster]\ntoken = "same-token-0123456789"\ninternal_token = "same-token-0123456789"\n${SHARD}`, /cluster\.internal_token must differ from cluster\.token/],
    ['a short internal token', `[cluster]\ninternal_token = "short"\n${SHARD}`, /cluster\.internal_token must be 16-1024 bytes, got 5/],
    ['the topology check of round 1', `[replication]\ntopology_check_interval_ms = 2000\n${SHARD}`, /replication\.topology_check_interval_ms is gone: .*remove the line/],
    ['an unknown auth scope', `[cluster]\nauth = "some"\n${SHARD}`, /cluster\.auth must be "internal" or "all", got "some"/],
    ['a misspelt cluster key', `[cluster]\nvnode = 8\n${SHARD}`, /unknown key cluster\.vnode/],
    ['a misspelt shard key', '[[shards]]\nname = "a"\nleader = "h:1"\nreplica = []\n', /unknown key shards\[0\]\.replica/],
    ['an unknown limit', `[limits]\nvalue_max = 1\n${SHARD}`, /unknown key limits\.value_max/],
    ['a limit out of range', `[limits]\nvalue_bytes_max = -1\n${SHARD}`, /limits\.value_bytes_max must be an integer in \[0, \d+\], got -1/],
    ['an unknown top-level table', `[extra]\n${SHARD}`, /unknown key extra/],
    ['an unknown acks', `[replication]\nacks = 2\n${SHARD}`, /replication\.acks must be 0, 1 or "all", got 2/],
    ['a misspelt replication key', `[replication]\nmin_in_sync = 1\n${SHARD}`, /unknown key replication\.min_in_sync/],
    ['a replication setting out of range', `[replication]\nreplica_lag_max_ms = 0\n${SHARD}`, /replication\.replica_lag_max_ms must be an integer in \[10, 600000\], got 0/],
    ['follower_sync not a boolean', `[replication]\nfollower_sync = "yes"\n${SHARD}`, /replication\.follower_sync must be true or false, got "yes"/],
    ['the epoch of round 1', `[cluster]\nepoch = 2\n${SHARD}`, /cluster\.epoch is gone: the control plane now versions the cluster's shape.*remove the line/],
    ['two controllers', `[cluster]\ncontrollers = ["127.0.0.1:7001", "127.0.0.1:7101"]\n${SHARD}`, /cluster\.controllers must list 1, 3 or 5 nodes .* got 2/],
    ['controllers not an array', `[cluster]\ncontrollers = "127.0.0.1:7001"\n${SHARD}`, /cluster\.controllers must be an array of "host:port", got string/],
    ['a controller twice', `[cluster]\ncontrollers = ["127.0.0.1:7001", "localhost:1", "127.0.0.1:7001"]\n${SHARD}`, /cluster\.controllers lists "127\.0\.0\.1:7001" twice/],
    ['a malformed controller', `[cluster]\ncontrollers = ["nope"]\n${SHARD}`, /cluster\.controllers\[0\] must be "host:port" .*got "nope"/],
    ['an unknown control key', `[control]\nlease = 5\n${SHARD}`, /unknown key control\.lease; known: tick_ms/],
    ['a lease renewed too late', `[control]\nlease_ms = 1000\nlease_renew_ms = 600\n${SHARD}`, /control\.lease_renew_ms \(600\) must be at most half of control\.lease_ms \(1000\)/],
    ['heartbeats slower than elections', `[control]\nelection_ticks = 5\nheartbeat_ticks = 5\n${SHARD}`, /control\.heartbeat_ticks \(5\) must be below control\.election_ticks \(5\)/],
  ];
  for (const [name, text, message] of cases) {
    it(`refuses ${name}`, () => {
      assert.throws(() => parse(text), (error: unknown) => {
        assert.ok(error instanceof ClusterError);
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, /^test\.toml: /);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it('never quotes the token in an error', () => {
    assert.throws(() => parse(`[cluster]\ntoken = "has space in it 0123"\n${SHARD}`), (error: Error) => !error.message.includes('has space'));
  });
});

describe('nodeStateFor', () => {
  const topology = Topology.fromConfig(parse(SHARD));

  it('finds a node\'s shard and role from its address', () => {
    assert.equal(nodeStateFor(topology, '127.0.0.1:7001').role, 'leader');
    assert.equal(nodeStateFor(topology, '127.0.0.1:7101').role, 'replica');
    assert.equal(nodeStateFor(topology, '127.0.0.1:7101').shard?.name, 's0');
  });

  it('places an address no shard lists as unassigned, with no shard', () => {
    const state = nodeStateFor(topology, '127.0.0.1:9999');
    assert.equal(state.role, 'unassigned');
    assert.equal(state.shard, undefined);
  });
});
