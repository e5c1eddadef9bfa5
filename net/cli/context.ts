/**
 * What a command runs with: its arguments and options, and the cluster: the addresses to ask
 * first (--cluster, else the config's nodes), the token, and a Client connected on first use.
 */
import { loadConfig } from '../../protocol/load-config.ts';
import { Topology } from '../../protocol/topology.ts';
import { Client } from '../client.ts';
import { tokenOf, UsageError, type Values } from './args.ts';

export interface Context {
  args: string[];
  values: Values;
  /** The nodes to ask first, the token, and the controllers the config names (none with --cluster). */
  cluster(): Promise<ClusterAccess>;
  client(): Promise<Client>;
  close(): void;
}

export interface ClusterAccess {
  addresses: string[];
  token: string | undefined;
  controllers: string[];
}

export function makeContext(args: string[], values: Values): Context {
  let access: Promise<ClusterAccess> | undefined;
  let client: Promise<Client> | undefined;
  const context: Context = {
    args,
    values,
    cluster: () => (access ??= findCluster(values)),
    client: () => (client ??= context.cluster().then((a) => Client.connect(a.addresses, { token: a.token }))),
    close: () => void client?.then((c) => c.close(), () => undefined),
  };
  return context;
}

async function findCluster(values: Values): Promise<ClusterAccess> {
  const token = await tokenOf(values);
  const list = values['cluster'];
  if (typeof list === 'string') {
    const addresses = list.split(',').map((a) => a.trim()).filter(Boolean);
    if (addresses.length === 0) throw new UsageError('--cluster needs HOST:PORT[,HOST:PORT…]');
    return { addresses, token, controllers: [] };
  }
  const file = typeof values['config'] === 'string' ? values['config'] : 'cluster.toml';
  const config = await loadConfig(file).catch((error: Error) => {
    const missing = /ENOENT/.test(error.message) && values['config'] === undefined;
    throw new UsageError(missing ? 'no cluster.toml here: run kv where the cluster\'s config is, or pass --config FILE or --cluster HOST:PORT' : error.message.split('\n')[0]!);
  });
  const addresses = [...new Set([...Topology.fromConfig(config).addresses(), ...config.controllers])];
  return { addresses, token: token ?? config.token, controllers: [...config.controllers] };
}
