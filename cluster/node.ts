/**
 * Entry point of one cluster node:
 *
 *   node --import tsx cluster/node.ts --config cluster.toml --node 127.0.0.1:7001 [--data DIR] [--bind HOST] [--log-level LEVEL]
 *
 * Finds this node's shard and role from its address in the config (or from the newer topology
 * it persisted after a promotion, replication/reconcile.ts), opens its engine in `<data>/db`,
 * asks the other nodes whether a newer epoch exists (so a deposed leader learns it before it
 * takes a single write), starts replicating, serves HTTP, and on SIGTERM or SIGINT stops
 * replication, drains requests and closes the engine before exiting 0.
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or arguments.
 *
 * Logs JSON lines on stderr at `--log-level` (else $DISTRIBKV_LOG_LEVEL, else info; log.ts).
 *
 * Binds 127.0.0.1 unless `--bind` says otherwise: a node holds data and, without a token,
 * open internal routes, so exposing it must be a decision.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { canonicalAddress, isLoopbackHost, parseAddress } from '../protocol/address.ts';
import type { ClusterConfig } from '../protocol/config.ts';
import { ClusterError } from '../protocol/errors.ts';
import { KEY_BYTES_MAX } from '../protocol/limits.ts';
import { loadConfig } from '../protocol/load-config.ts';
import { chooseLogLevel, createLog, errorFields, LOG_LEVEL_DEFAULT, LOG_LEVELS, type Log } from './log.ts';
import { NodeMetrics } from './metrics.ts';
import { nodeStateFor } from './node-state.ts';
import { ReplicationController } from './replication/controller.ts';
import type { DbHolder } from './replication/db-holder.ts';
import { openNodeStorage } from './replication/open-node.ts';
import { Peers } from './peers.ts';
import { NodeFileSystem } from '../engine/index.ts';
import { NodeServer } from './server.ts';
import { Topology } from '../protocol/topology.ts';

const USAGE = `usage: node --import tsx cluster/node.ts --config FILE --node HOST:PORT [--data DIR] [--bind HOST] [--log-level ${LOG_LEVELS.join('|')}]`;

interface NodeArgs {
  config: string;
  node: string;
  data: string | undefined;
  bind: string;
  logLevel: string;
}

function parseNodeArgs(argv: string[]): NodeArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', default: 'cluster.toml' },
        node: { type: 'string' },
        data: { type: 'string' },
        bind: { type: 'string', default: '127.0.0.1' },
        'log-level': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ClusterError('CONFIG_INVALID', `${(error as Error).message}\n${USAGE}`);
  }
  const node = values.node === undefined ? undefined : canonicalAddress(values.node);
  if (!node) throw new ClusterError('CONFIG_INVALID', `--node must be host:port, got ${JSON.stringify(values.node ?? '')}\n${USAGE}`);
  const logLevel = chooseLogLevel(values['log-level']);
  if (!LOG_LEVELS.includes(logLevel)) throw new ClusterError('CONFIG_INVALID', `log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)} (--log-level or DISTRIBKV_LOG_LEVEL)\n${USAGE}`);
  return { config: values.config, node, data: values.data, bind: values.bind, logLevel };
}

/** The default data directory: one per node, so leader and replica on one machine never share. */
function defaultDataDir(shard: string, node: string): string {
  return path.join('data', shard, node.replace(/[^A-Za-z0-9.-]/g, '_'));
}

/** Until the arguments name a level, start-up failures are logged at the default one. */
let log: Log = createLog(LOG_LEVEL_DEFAULT);

async function main(): Promise<void> {
  const args = parseNodeArgs(process.argv.slice(2));
  log = createLog(args.logLevel);
  const config = await loadConfig(args.config);
  log('debug', 'config loaded', { file: args.config, node: args.node, limits: config.limits, replication: config.replication, shards: config.shards.length, authScope: config.authScope });
  const configTopology = Topology.fromConfig(config);
  const configured = nodeStateFor(configTopology, args.node);
  const dataDir = args.data ?? defaultDataDir(configured.shard.name, configured.address);
  const port = parseAddress(configured.address)!.port;
  const { holder, controller } = await openReplication(config, configTopology, args.node, dataDir, log);
  await controller.discover();
  const state = controller.nodeState;
  const metrics = new NodeMetrics({
    node: () => ({ address: controller.nodeState.address, shard: controller.nodeState.shard.name, role: controller.nodeState.role }),
    engine: () => holder.db.stats(),
    replication: () => controller.figures(),
  });
  const server = new NodeServer({ state, store: holder.store, limits: config.limits, token: config.token, authScope: config.authScope, log, replication: controller, metrics });
  controller.onState((next) => server.setState(next));
  await controller.start();
  const bound = await server.listen(args.bind, port).catch(async (error: unknown) => {
    await controller.stop();
    await holder.close();
    throw error;
  });
  if (config.token === undefined) log('warn', 'no token set: /internal/ and /admin/ routes are open to anyone who can connect');
  if (!isLoopbackHost(parseAddress(state.address)!.host) && isLoopbackHost(args.bind)) {
    log('warn', 'the configured address is not loopback but the node binds loopback; pass --bind to be reachable', { bind: args.bind });
  }
  if (state.shard.replicas.length < config.replication.minInsync) {
    log('warn', 'fewer replicas than min_insync: acks=all writes on this shard will be refused', { replicas: state.shard.replicas.length, minInsync: config.replication.minInsync });
  }
  log('info', 'node listening', { node: state.address, shard: state.shard.name, role: state.role, bind: `${bound.address}:${bound.port}`, data: dataDir, epoch: state.topology.epoch });
  stopOnSignals(server, controller, holder, log);
}

/** Opens the engine and the persisted node state, reconciled with the config. */
async function openReplication(config: ClusterConfig, configTopology: Topology, address: string, dataDir: string, log: Log) {
  const fileSystem = new NodeFileSystem();
  // The engine keeps its own, larger limits; the node's are stricter and checked first.
  const { holder, meta, recoveredInstall } = await openNodeStorage(fileSystem, dataDir, configTopology, address, { keyBytesMax: KEY_BYTES_MAX, valueBytesMax: config.limits.valueBytesMax });
  if (recoveredInstall) log('warn', 'an interrupted snapshot install left partial data; the engine was emptied');
  const { limits, replication } = config;
  const frameBytesMax = 2 * Math.max(limits.batchBytesMax, limits.valueBytesMax, replication.snapshotChunkBytes) + 1024 * 1024;
  const controller = new ReplicationController({
    address, dataDir, fileSystem, holder, meta, options: replication, frameBytesMax, batchOpsMax: limits.batchOpsMax, peers: Peers.overHttp(config.token), log,
  });
  return { holder, controller };
}

function stopOnSignals(server: NodeServer, controller: ReplicationController, holder: DbHolder, log: Log): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'draining', { signal });
    // Replication stops first: its streams would otherwise hold the drain open until its timeout.
    controller
      .stop()
      .then(() => server.drain())
      .then(() => holder.close())
      .then(() => {
        log('info', 'stopped cleanly');
        process.exit(0);
      })
      .catch((error: unknown) => {
        log('error', 'unclean stop', errorFields(error));
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  const isConfig = error instanceof ClusterError && error.code === 'CONFIG_INVALID';
  log('error', isConfig ? error.message : 'node failed to start', isConfig ? {} : errorFields(error));
  process.exit(isConfig ? 2 : 1);
});
