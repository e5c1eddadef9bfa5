/**
 * How the host harness (and the loopback chaos cluster, test/chaos/) starts a node and which
 * config it hands it: the one place to change when either grows (protected mode, new flags,
 * new tables). Pure: text and argument lists, no I/O.
 *
 * Config: `[cluster]` with the control plane's `controllers = [...]` (when given; else the
 * config's default picks them among the shards' nodes), the token and its scope (when given),
 * then the `[limits]`, `[replication]` and `[control]` tables asked for, then the shards.
 *
 * Command line: `node --import tsx cluster/node.ts --config FILE --node HOST:PORT --data DIR
 * --bind HOST --log-level L`, with DISTRIBKV_TOKEN emptied, so a token in the test's own
 * environment cannot override the config's.
 */

export interface ShardLayout {
  name: string;
  leader: string;
  replicas: string[];
}

export interface ConfigSpec {
  shards: readonly ShardLayout[];
  /** The control plane's Raft group (1, 3 or 5 addresses); omitted: the config's default. */
  controllers?: readonly string[];
  /** 16+ printable characters (docs/operations.md); omitted: no token (loopback only). */
  token?: string;
  /** `internal` (the token on /internal/ and /admin/) or `all` (on every route but /healthz). */
  auth?: 'internal' | 'all';
  /** Extra lines under [cluster]. */
  clusterToml?: string;
  /** Lines of the [replication] table. */
  replicationToml?: string;
  /** Lines of the [limits] table. */
  limitsToml?: string;
  /** Lines of the [control] table (lease_ms, tick_ms, …). */
  controlToml?: string;
}

/** The cluster.toml every node of a harness cluster reads. */
export function clusterConfigText(spec: ConfigSpec): string {
  const lines = ['[cluster]', 'vnodes = 64'];
  if (spec.controllers) lines.push(`controllers = [${spec.controllers.map((c) => JSON.stringify(c)).join(', ')}]`);
  if (spec.token !== undefined) lines.push(`token = ${JSON.stringify(spec.token)}`, `internal_token = ${JSON.stringify(internalTokenOf(spec.token))}`);
  if (spec.auth !== undefined) lines.push(`auth = ${JSON.stringify(spec.auth)}`);
  lines.push(spec.clusterToml ?? '', '');
  if (spec.limitsToml) lines.push('[limits]', spec.limitsToml, '');
  if (spec.replicationToml) lines.push('[replication]', spec.replicationToml, '');
  if (spec.controlToml) lines.push('[control]', spec.controlToml, '');
  for (const s of spec.shards) {
    lines.push('[[shards]]', `name = ${JSON.stringify(s.name)}`, `leader = ${JSON.stringify(s.leader)}`, `replicas = [${s.replicas.map((r) => JSON.stringify(r)).join(', ')}]`, '');
  }
  return lines.join('\n');
}

/** The nodes' own credential beside a harness token (it must differ from the token). */
export function internalTokenOf(token: string): string {
  return `${token}-internal`;
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
