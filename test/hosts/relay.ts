/**
 * A host's relay: a user-space TCP relay inside the host's namespace, in front of its node,
 * for the faults the kernel here cannot make (no netem): delay and loss. It listens on the
 * host's public address (the one in the cluster config) and forwards every connection to the
 * node's own address on the same host; every client and every peer reaches the node through
 * it. Shaping is per source host: `from` names where a connection comes from (the peers map
 * addresses to names), so a delay can sit on one link, in both directions of its connections.
 *
 *   node --import tsx test/hosts/relay.ts --listen IP:PORT --target IP:PORT \
 *        --peers 'h0=198.18.5.10,198.18.5.110;client=198.18.5.1' --seed 7
 *
 * Control: one JSON object a line on stdin, one answer a line on stdout:
 *   {"id":1,"op":"shape","from":"h1","delayMs":30,"lossChance":0,"stallMs":0}   ("from":"*": every source)
 *   {"id":2,"op":"clear"}        every shape removed
 *   {"id":3,"op":"stats"}
 * answered {"id":N,"ok":true,"stats":{…}} or {"id":N,"ok":false,"error":"…"}. The first line
 * out is {"ready":true} once listening. The relay exits when stdin closes, so it never
 * outlives the process that started it, even one killed with SIGKILL.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { seededRandom } from '../../engine/fs/memory-file-system.ts';
import { TcpProxy, type LinkShape } from '../helpers/tcp-proxy.ts';

interface Command {
  id: number;
  op: 'shape' | 'clear' | 'stats';
  from?: string;
  delayMs?: number;
  lossChance?: number;
  stallMs?: number;
}

function splitHostPort(text: string, flag: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`relay: --${flag} must be IP:PORT, got ${JSON.stringify(text)}`);
  return { host: text.slice(0, colon), port };
}

/** `h0=ip,ip;h1=ip` to a map from address to name. */
function parsePeers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of text.split(';').filter(Boolean)) {
    const [name, ips] = entry.split('=');
    if (!name || !ips) throw new Error(`relay: --peers entries are NAME=IP[,IP], got ${JSON.stringify(entry)}`);
    for (const ip of ips.split(',')) out.set(ip, name);
  }
  return out;
}

function shapeOf(command: Command): LinkShape {
  const shape = { delayMs: command.delayMs ?? 0, lossChance: command.lossChance ?? 0, stallMs: command.stallMs ?? 0 };
  const bad = Object.entries(shape).find(([, v]) => typeof v !== 'number' || !Number.isFinite(v) || v < 0);
  if (bad) throw new Error(`relay: ${bad[0]} must be a number >= 0, got ${JSON.stringify(bad[1])}`);
  if (shape.lossChance > 1) throw new Error(`relay: lossChance must be at most 1, got ${shape.lossChance}`);
  return shape;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { listen: { type: 'string' }, target: { type: 'string' }, peers: { type: 'string', default: '' }, seed: { type: 'string', default: '1' } } });
  const listen = splitHostPort(values.listen ?? '', 'listen');
  const target = splitHostPort(values.target ?? '', 'target');
  const peers = parsePeers(values.peers);
  const shapes = new Map<string, LinkShape>();
  const proxy = await TcpProxy.start(listen, target);
  const nameOf = (address: string) => peers.get(address.replace(/^::ffff:/, '')) ?? address;
  proxy.shape((address) => shapes.get(nameOf(address)) ?? shapes.get('*'), seededRandom(Number(values.seed)));
  const stats = () => ({ connections: proxy.connections, bytesForwarded: proxy.bytesForwarded, chunksDelayed: proxy.chunksDelayed, chunksStalled: proxy.chunksStalled });
  const answer = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
  answer({ ready: true });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    let command: Command | undefined;
    try {
      command = JSON.parse(line) as Command;
      if (command.op === 'shape') shapes.set(command.from ?? '*', shapeOf(command));
      else if (command.op === 'clear') shapes.clear();
      else if (command.op !== 'stats') throw new Error(`relay: unknown op ${JSON.stringify(command.op)}`);
      answer({ id: command.id, ok: true, stats: stats() });
    } catch (error) {
      answer({ id: command?.id ?? -1, ok: false, error: (error as Error).message });
    }
  });
  lines.on('close', () => {
    void proxy.close().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
});
