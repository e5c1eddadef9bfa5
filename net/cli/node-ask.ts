/**
 * Asking one node about itself (`kv status`, `kv cluster`): a GET with a short timeout, whose
 * answer is the JSON body or the reason there is none, in a few words: `refused`, `timeout`,
 * `401 UNAUTHORIZED`, `503 SHUTTING_DOWN`.
 */
import { unreachableReason } from '../errors.ts';
import { HttpTransport } from '../transport.ts';
import { NODE_ASK_TIMEOUT_MS } from './limits.ts';

const transport = new HttpTransport({ requestTimeoutMs: NODE_ASK_TIMEOUT_MS, responseBytesMax: 16 * 1024 * 1024, socketsPerNodeMax: 2 });

export interface NodeAnswer {
  json: unknown;
  /** Why there is no JSON body: unreachable, or an error status with its code. */
  error: string | undefined;
}

export async function askNode(address: string, path: string, token: string | undefined): Promise<NodeAnswer> {
  try {
    const res = await transport.request(address, { method: 'GET', path, headers: token ? { Authorization: `Bearer ${token}` } : {} });
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(res.body).toString('utf8'));
    } catch {
      return { json: undefined, error: `${res.status}, not JSON` };
    }
    if (res.status === 200) return { json, error: undefined };
    const code = (json as { code?: unknown } | undefined)?.code;
    return { json: undefined, error: `${res.status}${typeof code === 'string' ? ` ${code}` : ''}` };
  } catch (error) {
    return { json: undefined, error: unreachableReason(error) };
  }
}

/** Lets the process exit: keep-alive sockets would hold it open. */
export function closeNodeConnections(): void {
  transport.close();
}
