/**
 * Entry point of one cluster node:
 *
 *   node --import tsx cluster/node.ts --config cluster.toml --node 127.0.0.1:7001 [--data DIR] [--bind HOST]
 *
 * Finds this node's shard and role from its address in the config, opens its engine, serves
 * HTTP, and on SIGTERM or SIGINT drains requests and closes the engine before exiting 0.
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or arguments.
 *
 * Binds 127.0.0.1 unless `--bind` says otherwise: a node holds data and, without a token,
 * open internal routes, so exposing it must be a decision.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Db } from '../engine/index.ts';
import { canonicalAddress, isLoopbackHost, parseAddress } from './address.ts';
import { ClusterError } from './errors.ts';
import { KEY_BYTES_MAX } from './limits.ts';
import { loadConfig } from './load-config.ts';
import { errorFields, stderrLog, type Log } from './log.ts';
import { nodeStateFor } from './node-state.ts';
import { NodeServer } from './server.ts';
import { Topology } from './topology.ts';

const USAGE = 'usage: node --import tsx cluster/node.ts --config FILE --node HOST:PORT [--data DIR] [--bind HOST]';

interface NodeArgs {
  config: string;
  node: string;
  data: string | undefined;
  bind: string;
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
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ClusterError('CONFIG_INVALID', `${(error as Error).message}\n${USAGE}`);
  }
  const node = values.node === undefined ? undefined : canonicalAddress(values.node);
  if (!node) throw new ClusterError('CONFIG_INVALID', `--node must be host:port, got ${JSON.stringify(values.node ?? '')}\n${USAGE}`);
  return { config: values.config, node, data: values.data, bind: values.bind };
}

/** The default data directory: one per node, so leader and replica on one machine never share. */
function defaultDataDir(shard: string, node: string): string {
  return path.join('data', shard, node.replace(/[^A-Za-z0-9.-]/g, '_'));
}

async function main(log: Log): Promise<void> {
  const args = parseNodeArgs(process.argv.slice(2));
  const config = await loadConfig(args.config);
  const state = nodeStateFor(Topology.fromConfig(config), args.node);
  const dataDir = args.data ?? defaultDataDir(state.shard.name, state.address);
  const port = parseAddress(state.address)!.port;
  // The engine keeps its own, larger limits; the node's are stricter and checked first.
  const db = await Db.open(dataDir, { keyBytesMax: KEY_BYTES_MAX, valueBytesMax: config.limits.valueBytesMax });
  const server = new NodeServer({ state, store: db, limits: config.limits, token: config.token, authScope: config.authScope, log });
  const bound = await server.listen(args.bind, port).catch(async (error: unknown) => {
    await db.close();
    throw error;
  });
  if (config.token === undefined) log('warn', 'no token set: /internal/ and /admin/ routes are open to anyone who can connect');
  if (!isLoopbackHost(parseAddress(state.address)!.host) && isLoopbackHost(args.bind)) {
    log('warn', 'the configured address is not loopback but the node binds loopback; pass --bind to be reachable', { bind: args.bind });
  }
  log('info', 'node listening', { node: state.address, shard: state.shard.name, role: state.role, bind: `${bound.address}:${bound.port}`, data: dataDir, epoch: config.epoch });
  stopOnSignals(server, db, log);
}

function stopOnSignals(server: NodeServer, db: Db, log: Log): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'draining', { signal });
    server
      .drain()
      .then(() => db.close())
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

main(stderrLog).catch((error: unknown) => {
  const isConfig = error instanceof ClusterError && error.code === 'CONFIG_INVALID';
  stderrLog('error', isConfig ? error.message : 'node failed to start', isConfig ? {} : errorFields(error));
  process.exit(isConfig ? 2 : 1);
});
