/**
 * Entry point of one cluster node:
 *
 *   node --import tsx cluster/node.ts --config cluster.toml --node 127.0.0.1:7001 [--data DIR] [--bind HOST] [--log-level LEVEL]
 *
 * Opens its engine in `<data>/db` and its node state (open-node.ts), runs the control plane if
 * it is one of `cluster.controllers`, and takes the role the committed metadata gives it
 * (cluster.toml's shape, at version 0, until the control plane answers; a node whose address no
 * shard has joins as unassigned); serves HTTP. On SIGTERM or SIGINT a shard leader hands its
 * shard over to an in-sync follower, a controller leader steps down, then requests drain and
 * the engine closes before exiting 0.
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or arguments.
 *
 * Logs JSON lines on stderr at `--log-level` (else $DISTRIBKV_LOG_LEVEL, else info; log.ts).
 *
 * Binds 127.0.0.1 unless `--bind` says otherwise, and refuses any other address without
 * credentials (protected mode): a node holds data, and its internal routes speak for the cluster.
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
import { ReplicationController } from './replication/controller.ts';
import type { DbHolder } from './replication/db-holder.ts';
import type { NodeMeta } from './replication/node-meta.ts';
import { ControlPlane } from './control/control-plane.ts';
import { MetadataClient } from './control/metadata-client.ts';
import { bootstrapCommand, metadataOfConfig } from './control/bootstrap.ts';
import { openNodeStorage } from './replication/open-node.ts';
import { Peers } from './peers.ts';
import { NodeFileSystem } from '../engine/index.ts';

/** The Raft group's directory inside a controller's data directory. */
const RAFT_DIR = 'raft';
import { NodeServer } from './server.ts';
import { EventLog, recordingLog } from './events.ts';
import { argumentProblem, checkDataDir, checkPort, describeStartFailure } from './start-checks.ts';
import { Topology } from '../protocol/topology.ts';

const USAGE = `usage: node --import tsx cluster/node.ts --config FILE --node HOST:PORT [--data DIR] [--bind HOST] [--log-level ${LOG_LEVELS.join('|')}]`;
const HELP = `${USAGE}
Runs one node of the cluster cluster.toml describes (docs/operations.md, "Starting a node").
  --config FILE      the cluster's config (default cluster.toml)
  --node HOST:PORT   this node's address, as the config and the other nodes name it
  --data DIR         its data directory (default data/<shard>/<address>)
  --bind HOST        the address to listen on (default 127.0.0.1)
  --log-level LEVEL  default $DISTRIBKV_LOG_LEVEL, else info
Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or arguments.`;

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
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw usageError(argumentProblem(error));
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  if (values.node === undefined) throw usageError('--node HOST:PORT is required: the address of this node in the config');
  const node = canonicalAddress(values.node);
  if (!node) throw usageError(`--node must be host:port, got ${JSON.stringify(values.node)}`);
  const logLevel = chooseLogLevel(values['log-level']);
  if (!LOG_LEVELS.includes(logLevel)) throw usageError(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)} (--log-level or DISTRIBKV_LOG_LEVEL)`);
  return { config: values.config, node, data: values.data, bind: values.bind, logLevel };
}

function usageError(message: string): ClusterError {
  return new ClusterError('CONFIG_INVALID', `${message}; see cluster/node.ts --help`);
}

/** What the nodes present to each other: the internal token, else the token (docs/security.md). */
function internalCredential(config: ClusterConfig): string | undefined {
  return config.internalToken ?? config.token;
}

/**
 * Protected mode: a node reachable beyond this machine must not open its admin and internal
 * routes to anyone who connects. Without credentials it listens on loopback only.
 */
function checkProtectedMode(config: ClusterConfig, bind: string): void {
  if (isLoopbackHost(bind) || config.token !== undefined) return;
  throw new ClusterError('CONFIG_INVALID', `refusing to listen on ${bind} without credentials (protected mode): set cluster.token and cluster.internal_token in ${config.source} (or DISTRIBKV_TOKEN and DISTRIBKV_INTERNAL_TOKEN); a cluster without them is for one machine, on 127.0.0.1`);
}

/** The default data directory: one per node, so leader and replica on one machine never share. */
function defaultDataDir(shard: string, node: string): string {
  return path.join('data', shard, node.replace(/[^A-Za-z0-9.-]/g, '_'));
}

/**
 * Until the arguments name a level, start-up failures are logged at the default one. Every
 * info-and-above line is also kept in the node's recent events (events.ts), whatever the level.
 */
const events = new EventLog();
let log: Log = createLog(LOG_LEVEL_DEFAULT);
/** What a start-up failure's message names. */
const starting: { address: string; bind: string; dataDir: string | undefined } = { address: '', bind: '127.0.0.1', dataDir: undefined };

async function main(): Promise<void> {
  const args = parseNodeArgs(process.argv.slice(2));
  log = recordingLog(createLog(args.logLevel), events);
  Object.assign(starting, { address: args.node, bind: args.bind });
  const config = await loadConfig(args.config);
  log('debug', 'config loaded', { file: args.config, node: args.node, limits: config.limits, replication: config.replication, control: config.control, controllers: config.controllers, shards: config.shards.length, authScope: config.authScope });
  const address = args.node;
  checkProtectedMode(config, args.bind);
  const configured = Topology.fromConfig(config).locate(address);
  const dataDir = args.data ?? defaultDataDir(configured?.shard.name ?? 'unassigned', address);
  starting.dataDir = dataDir;
  const port = parseAddress(address)!.port;
  // Before any file is created: a port in use or a data directory that cannot be written costs nothing.
  await checkPort(args.bind, address);
  checkDataDir(dataDir);
  const { holder, meta, recoveredInstall } = await openNodeStorage(new NodeFileSystem(), dataDir, address, { keyBytesMax: KEY_BYTES_MAX, valueBytesMax: config.limits.valueBytesMax });
  if (recoveredInstall) log('warn', 'an interrupted snapshot install left partial data; the engine was emptied');
  const parts = await assemble(config, address, dataDir, holder, meta);
  const { controller, control, client, server } = parts;
  const bound = await server.listen(args.bind, port).catch(async (error: unknown) => {
    await stopAll(parts, holder);
    throw error;
  });
  control?.start();
  await controller.start();
  client.start();
  if (!isLoopbackHost(parseAddress(address)!.host) && isLoopbackHost(args.bind)) {
    log('warn', 'the configured address is not loopback but the node binds loopback; pass --bind to be reachable', { bind: args.bind });
  }
  const state = controller.nodeState;
  log('info', 'node listening', { node: address, shard: state.shard?.name ?? null, role: state.role, controller: control !== undefined, bind: `${bound.address}:${bound.port}`, data: dataDir, version: state.topology.version });
  stopOnSignals(parts, holder, log);
}

interface NodeParts {
  controller: ReplicationController;
  control: ControlPlane | undefined;
  client: MetadataClient;
  server: NodeServer;
}

/** Builds the node's parts around its opened engine: the control plane (on a controller), the metadata link, replication, the server. */
async function assemble(config: ClusterConfig, address: string, dataDir: string, holder: DbHolder, meta: NodeMeta): Promise<NodeParts> {
  const peers = Peers.overHttp(internalCredential(config));
  const bootstrap = bootstrapCommand(config);
  const control = config.controllers.includes(address)
    ? await ControlPlane.open({
      address, controllers: config.controllers, fileSystem: new NodeFileSystem(), dir: path.join(dataDir, RAFT_DIR), peers, log,
      control: config.control, bootstrap, now: () => performance.now(), random: Math.random,
    })
    : undefined;
  const initial = meta.metadata ?? metadataOfConfig(bootstrap);
  let controller: ReplicationController | undefined;
  events.observeMetadata(initial);
  const client = new MetadataClient({
    address, controllers: config.controllers, peers, log, initial,
    onMetadata: (metadata) => {
      events.observeMetadata(metadata);
      void controller?.onMetadata(metadata);
    },
    onConfirmed: () => controller?.metadataConfirmed(),
  });
  const { limits, replication } = config;
  const frameBytesMax = 2 * Math.max(limits.batchBytesMax, limits.valueBytesMax, replication.snapshotChunkBytes) + 1024 * 1024;
  controller = new ReplicationController({
    address, dataDir, fileSystem: new NodeFileSystem(), holder, meta, initial, options: replication, control: config.control,
    frameBytesMax, batchOpsMax: limits.batchOpsMax, peers, client, log,
  });
  const replicationOf = controller;
  const metrics = new NodeMetrics({
    node: () => ({ address, shard: replicationOf.nodeState.shard?.name ?? '', role: replicationOf.nodeState.role }),
    engine: () => holder.db.stats(),
    replication: () => replicationOf.figures(),
  });
  const server = new NodeServer({
    state: controller.nodeState, store: holder.store, limits, token: config.token, internalToken: internalCredential(config), authScope: config.authScope, log, replication: controller, metrics,
    control, metadata: () => client.metadata, controllers: config.controllers, events, peers,
  });
  controller.onState((next) => server.setState(next));
  return { controller, control, client, server };
}

async function stopAll(parts: NodeParts, holder: DbHolder): Promise<void> {
  await parts.controller.stop();
  await parts.client.stop();
  await parts.control?.stop();
  await holder.close();
}

function stopOnSignals(parts: NodeParts, holder: DbHolder, log: Log): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'draining', { signal });
    // A leader hands its shard over first (so no acks=all write fails), and a controller its
    // Raft leadership; requests in flight finish while the node still holds its role (the drain
    // cuts replication streams rather than wait for them); then replication stops.
    handOver(parts, log)
      .then(() => parts.server.drain())
      .then(() => stopAll(parts, holder))
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

/** On a graceful stop: a shard leader hands over to an in-sync follower, a controller leader steps down. Failures are logged, never fatal. */
async function handOver(parts: NodeParts, log: Log): Promise<void> {
  if (parts.controller.nodeState.role === 'leader') {
    await parts.controller.transfer(undefined).then(
      (report) => log('info', 'handed the shard over before stopping', { ...report }),
      (error: unknown) => log('warn', 'could not hand the shard over before stopping; the control plane fails it over when the lease ends', errorFields(error)),
    );
  }
  await parts.control?.stepDown();
}

main().catch((error: unknown) => {
  const isConfig = error instanceof ClusterError && error.code === 'CONFIG_INVALID';
  // One line that says what to do; a stack only for a failure nobody foresaw (a bug to report).
  const { message, expected } = describeStartFailure(error, starting);
  log('error', message, expected ? { code: (error as { code?: unknown }).code } : errorFields(error));
  process.exit(isConfig ? 2 : 1);
});
