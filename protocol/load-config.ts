/**
 * Reads cluster.toml from disk and hands it to the pure parser. The I/O half of config.ts.
 */
import { readFile, stat } from 'node:fs/promises';
import { parseConfig, type ClusterConfig } from './config.ts';
import { configError } from './errors.ts';
import { CONFIG_BYTES_MAX } from './limits.ts';

/** Loads and validates a config file; `env` supplies DISTRIBKV_TOKEN. Throws CONFIG_INVALID. */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<ClusterConfig> {
  let text: string;
  try {
    const info = await stat(path);
    if (info.size > CONFIG_BYTES_MAX) throw configError(`${path}: ${info.size} bytes; a config may be at most ${CONFIG_BYTES_MAX}`);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof Error && error.name === 'ClusterError') throw error;
    throw configError(`${path}: cannot read the config file: ${(error as Error).message}`, error);
  }
  return parseConfig(text, { source: path, envToken: env['DISTRIBKV_TOKEN'] || undefined, envInternalToken: env['DISTRIBKV_INTERNAL_TOKEN'] || undefined });
}
