import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

/** An echo server on loopback. */
async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function roundTrip(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(text);
  });
}

test('the proxy forwards, cuts open connections, refuses new ones in a partition, and heals', async (t) => {
  const echo = await echoServer();
  t.after(() => echo.close());
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: echo.port });
  t.after(() => proxy.close());

  const a = await connect(proxy.address.port);
  assert.equal(await roundTrip(a, 'hello'), 'hello');
  assert.equal(proxy.connections, 1);
  assert.ok(proxy.bytesForwarded >= 10);

  const closed = new Promise((resolve) => a.once('close', resolve));
  proxy.cut();
  await closed;

  proxy.partition();
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const s = net.connect(proxy.address.port, '127.0.0.1');
      s.once('error', reject);
      s.once('close', () => reject(new Error('closed')));
      s.once('data', () => resolve());
      s.write('x');
    }),
  );

  proxy.heal();
  const b = await connect(proxy.address.port);
  t.after(() => b.destroy());
  assert.equal(await roundTrip(b, 'again'), 'again');
});

test('a blackholed link swallows data until healed, and a delayed link keeps the order', async (t) => {
  const echo = await echoServer();
  t.after(() => echo.close());
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: echo.port });
  t.after(() => proxy.close());
  const s = await connect(proxy.address.port);
  t.after(() => s.destroy());
  proxy.blackhole();
  const before = proxy.bytesForwarded;
  s.write('lost');
  const deadline = Date.now() + 5000;
  while (proxy.bytesDropped < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(proxy.bytesDropped, 4);
  assert.equal(proxy.bytesForwarded, before);
  proxy.heal();
  proxy.delay(5);
  assert.equal(await roundTrip(s, 'abc'), 'abc');
  assert.equal(await roundTrip(s, 'defgh'), 'defgh');
});
