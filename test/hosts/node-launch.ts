/**
 * How the host harness starts a node and which config it hands it: the one place to change
 * when either grows (the control plane's `[cluster] controllers = [...]`, protected mode,
 * new flags). Pure: text and argument lists, no I/O.
 *
 * Today's command line: `node --import tsx cluster/node.ts --config FILE --node HOST:PORT
 * --data DIR --bind HOST --log-level L`, with the token in the config (`[cluster] token`) and
 * DISTRIBKV_TOKEN emptied, so a token in the test's own environment cannot override it.
 */

export interface ShardLayout {
  name: string;
  leader: string;
  replicas: string[];
}

export interface ConfigSpec {
  shards: readonly ShardLayout[];
  /** 16+ printable characters (docs/operations.md). */
  token: string;
  /** `internal` (the token on /internal/ and /admin/) or `all` (on every route but /healthz). */
  auth: 'internal' | 'all';
  /** Extra lines under [cluster]. */
  clusterToml?: string;
  /** Lines of the [replication] table. */
  replicationToml?: string;
  /** Lines of the [limits] table. */
  limitsToml?: string;
}

/** The cluster.toml every node of a harness cluster reads. */
export function clusterConfigText(spec: ConfigSpec): string {
  const lines = ['[cluster]', 'vnodes = 64', `token = ${JSON.stringify(spec.token)}`, `internal_token = ${JSON.stringify(`${spec.token}-internal`)}`, `auth = ${JSON.stringify(spec.auth)}`, spec.clusterToml ?? '', ''];
  if (spec.limitsToml) lines.push('[limits]', spec.limitsToml, '');
  if (spec.replicationToml) lines.push('[replication]', spec.replicationToml, '');
  for (const s of spec.shards) {
    lines.push('[[shards]]', `name = ${JSON.stringify(s.name)}`, `leader = ${JSON.stringify(s.leader)}`, `replicas = [${s.replicas.map((r) => JSON.stringify(r)).join(', ')}]`, '');
  }
  return lines.join('\n');
}

export interface NodeLaunch {
  configPath: string;
  /** The node's address in the config. */
  address: string;
  dataDir: string;
  /** The address it listens on (its own; the relay's, when there is one, is `address`). */
  bindHost: string;
  logLevel: string;
}

/** The program and arguments that start one node (run from the repository's root). */
export function nodeCommand(launch: NodeLaunch): { command: string; args: string[]; env: Record<string, string> } {
  return {
    command: process.execPath,
    args: ['--import', 'tsx', 'cluster/node.ts', '--config', launch.configPath, '--node', launch.address, '--data', launch.dataDir, '--bind', launch.bindHost, '--log-level', launch.logLevel],
    env: { DISTRIBKV_TOKEN: '', DISTRIBKV_INTERNAL_TOKEN: '' },
  };
}
