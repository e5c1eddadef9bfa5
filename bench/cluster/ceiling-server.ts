/**
 * The ceiling: a bare node:http server that does no work, so what it serves under the same
 * load on the same machine is the most any node:http server could. One process:
 *
 *   node --import tsx bench/cluster/ceiling-server.ts --port N [--host IP] --value-bytes N --topology FILE
 *
 * - `GET /cluster`: the topology in FILE (constant), so the client library connects to it
 *   exactly as to a cluster and spreads keys over the ceiling processes the same way;
 * - any other GET: 200 with a constant body of `value-bytes` bytes (a value);
 * - any other method: reads the body, answers 204 with `X-Seq: 1` (what a write answers).
 *
 * It listens on 127.0.0.1 unless `--host` names another address (a host's own, inside its
 * network namespace, for `--hosts`). It parses nothing else; the node's own server sets the
 * same options (keep-alive 5 s).
 * Exits on SIGTERM or SIGINT.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, 'value-bytes': { type: 'string', default: '100' }, topology: { type: 'string' } },
  strict: true,
});
const port = Number(values.port);
const value = Buffer.alloc(Number(values['value-bytes']), 0x61);
const topology = values.topology === undefined ? Buffer.from('{}') : readFileSync(values.topology);

const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  if (req.method === 'GET') {
    const body = req.url === '/cluster' ? topology : value;
    res.writeHead(200, { 'Content-Type': req.url === '/cluster' ? 'application/json' : 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
    return;
  }
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(204, { 'X-Seq': '1' });
    res.end();
  });
});
server.listen({ host: values.host, port });
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
