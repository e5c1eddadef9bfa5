/**
 * The server's pools (cluster/admission.ts), the order of pipelined requests
 * (cluster/connection-order.ts) and the Host and Origin check (cluster/host-check.ts), without
 * sockets: each rule of issue 16's findings 4, 6 and 7 as a small table or script.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { Admission, type AdmissionLimits } from '../../cluster/admission.ts';
import { ConnectionOrder } from '../../cluster/connection-order.ts';
import { checkHostAndOrigin, hostName, type NodeNames } from '../../cluster/host-check.ts';
import { BODIES_RECEIVING_MAX, BODY_BYTES_RECEIVING_MAX } from '../../cluster/limits.ts';
import { ClusterError } from '../../protocol/errors.ts';

const overloaded = (error: unknown) => error instanceof ClusterError && error.code === 'OVERLOADED';

function limits(overrides: Partial<AdmissionLimits>): AdmissionLimits {
  return { servingMax: 1, internalServingMax: 1, streamFollowers: () => [], ...overrides };
}

/** A response that records whether it was destroyed. */
function response(): ServerResponse & { destroyedByTest: boolean } {
  const res = { destroyedByTest: false, destroy() { res.destroyedByTest = true; } };
  return res as unknown as ServerResponse & { destroyedByTest: boolean };
}

describe('Admission', () => {
  it('bounds requests being served, and frees a slot when one is released', () => {
    const admission = new Admission(limits({ servingMax: 2 }));
    const [a, b, c] = [admission.ticket(), admission.ticket(), admission.ticket()];
    a.serve();
    b.serve();
    assert.throws(() => c.serve(), overloaded);
    a.release();
    c.serve();
    assert.deepEqual(admission.counts(), { serving: 2, internalServing: 0, receiving: 0, receivingBytes: 0, streams: 0 });
    a.release(); // twice: nothing more
    assert.equal(admission.counts().serving, 2);
  });

  it('does not count a body still arriving as served, however many stall', () => {
    const admission = new Admission(limits({ servingMax: 1 }));
    const stalled = Array.from({ length: BODIES_RECEIVING_MAX }, () => admission.ticket());
    for (const t of stalled) t.receive();
    assert.throws(() => admission.ticket().receive(), overloaded, 'past BODIES_RECEIVING_MAX');
    const plain = admission.ticket();
    plain.serve();
    assert.deepEqual(admission.counts(), { serving: 1, internalServing: 0, receiving: BODIES_RECEIVING_MAX, receivingBytes: 0, streams: 0 });
  });

  it('bounds the bytes of bodies in transit together, and gives them back once a body is served', () => {
    const admission = new Admission(limits({ servingMax: 4 }));
    const [a, b] = [admission.ticket(), admission.ticket()];
    a.receive();
    b.receive();
    a.received(BODY_BYTES_RECEIVING_MAX - 10);
    assert.throws(() => b.received(11), overloaded);
    b.received(10);
    a.serve();
    assert.deepEqual(admission.counts(), { serving: 1, internalServing: 0, receiving: 1, receivingBytes: 10, streams: 0 });
    b.release();
    assert.deepEqual(admission.counts(), { serving: 1, internalServing: 0, receiving: 0, receivingBytes: 0, streams: 0 });
  });

  it('keeps node-to-node requests apart from clients\' at their limit, and the other way round', () => {
    const admission = new Admission(limits({ servingMax: 1, internalServingMax: 1 }));
    admission.ticket().serve();
    assert.throws(() => admission.ticket().serve(), overloaded, 'clients at their limit');
    const node = admission.ticket(true);
    node.serve();
    assert.throws(() => admission.ticket(true).serve(), overloaded, 'nodes at theirs');
    node.release();
    admission.ticket(true).serve();
    assert.deepEqual(admission.counts(), { serving: 1, internalServing: 1, receiving: 0, receivingBytes: 0, streams: 0 });
  });

  it('holds one stream per follower of the shard, a new one replacing the old, and cuts others for a follower that needs a place', () => {
    let followers = ['10.0.0.1:1', '10.0.0.2:2'];
    const admission = new Admission(limits({ streamFollowers: () => followers }));
    const [r1, r2, again, third, stranger] = [response(), response(), response(), response(), response()];
    const first = admission.ticket();
    first.stream('10.0.0.1:1', r1);
    admission.ticket().stream('10.0.0.2:2', r2);
    // A name outside the shard is let through, to be refused by the members check (403 NOT_A_MEMBER,
    // not OVERLOADED), and cuts no follower.
    const strangerTicket = admission.ticket();
    strangerTicket.stream('6.6.6.6:1', stranger);
    assert.equal(r1.destroyedByTest || r2.destroyedByTest, false, 'no follower is cut for a stranger');
    // The first follower reconnects: its old stream (perhaps half-open) is ended, the place kept.
    const successor = admission.ticket();
    successor.stream('10.0.0.1:1', again);
    assert.ok(r1.destroyedByTest);
    first.release(); // the replaced stream's close
    assert.equal(admission.counts().streams, 3, 'the successor keeps its place');
    // Membership changed (read at each open): 10.0.0.2 left, 10.0.0.3 joined; with no place
    // free, the streams of non-followers (the stranger, the former member) are cut.
    followers = ['10.0.0.1:1', '10.0.0.3:3'];
    admission.ticket().stream('10.0.0.3:3', third);
    assert.ok(r2.destroyedByTest && stranger.destroyedByTest, 'non-followers are cut');
    assert.ok(!again.destroyedByTest, 'a follower is not');
    assert.equal(admission.counts().streams, 2);
    strangerTicket.release(); // a cut stream's close frees nothing of its successor's
    assert.equal(admission.counts().streams, 2);
  });

  it('tells a drain when the last request or body is gone, not waiting for streams', () => {
    const admission = new Admission(limits({ streamFollowers: () => ['n:1'] }));
    const [a, b, c] = [admission.ticket(), admission.ticket(true), admission.ticket()];
    a.receive();
    b.serve();
    c.stream('n:1', response());
    let idle = false;
    admission.whenIdle(() => (idle = true));
    a.release();
    assert.equal(idle, false, 'a node\'s request is still served');
    b.release();
    assert.equal(idle, true, 'the open stream is not waited for');
  });
});

describe('ConnectionOrder', () => {
  it('starts a connection\'s requests one at a time in arrival order, and drops the rest when it closes', () => {
    const order = new ConnectionOrder(2);
    const socket = { destroyed: false, writable: true } as unknown as Socket & { destroyed: boolean; writable: boolean };
    const other = { destroyed: false, writable: true } as unknown as Socket;
    const started: string[] = [];
    assert.ok(order.enter(socket, () => started.push('put')));
    assert.ok(order.enter(socket, () => started.push('delete')));
    assert.ok(order.enter(other, () => started.push('other connection')));
    assert.ok(order.enter(socket, () => started.push('get')));
    assert.equal(order.enter(socket, () => started.push('too deep')), false);
    assert.deepEqual(started, ['put', 'other connection']);
    order.leave(socket);
    assert.deepEqual(started, ['put', 'other connection', 'delete']);
    socket.writable = false; // answered with Connection: close
    order.leave(socket);
    assert.deepEqual(started, ['put', 'other connection', 'delete'], 'nothing more on a closing connection');
  });
});

describe('the Host and Origin check', () => {
  const names: NodeNames = { configuredHost: 'node-a.internal', configuredPort: 7001, bindHost: '127.0.0.1' };
  const local = { address: '::ffff:10.0.0.5', port: 7001 };
  const verdict = (host: string | undefined, origin?: string) => {
    try {
      checkHostAndOrigin(host, origin, names, local);
      return 'ok';
    } catch (error) {
      return (error as ClusterError).code;
    }
  };

  it('accepts the node\'s own names, in any case and with any port', () => {
    for (const host of ['node-a.internal:7001', 'NODE-A.internal', '127.0.0.1:7001', '10.0.0.5:8080', 'localhost', 'localhost:1']) assert.equal(verdict(host), 'ok', host);
    // An IP literal cannot be rebound, and a proxy or NAT may reach the node at an address not its own.
    for (const host of ['10.0.0.6:7001', '127.0.0.2:7001', '[::1]:7001']) assert.equal(verdict(host), 'ok', host);
    assert.equal(verdict(undefined), 'ok', 'HTTP/1.0 without Host is the server\'s to judge');
  });

  it('refuses a name that is not the node\'s: rebinding, other nodes, malformed', () => {
    for (const host of ['attacker.example:7001', 'node-b.internal:7001', 'localhost.', 'node-a.internal:x', '10.0.0.6:x', '']) assert.equal(verdict(host), 'FOREIGN_HOST', host);
  });

  it('accepts only an Origin that is this very node', () => {
    assert.equal(verdict('localhost', 'http://localhost:7001'), 'ok');
    assert.equal(verdict('localhost', 'http://node-a.internal:7001'), 'ok');
    for (const origin of ['http://localhost:8080', 'https://attacker.example', 'null', 'file://', 'http://attacker.example:7001', 'not a url', 'http://10.0.0.6:7001']) assert.equal(verdict('localhost', origin), 'FOREIGN_ORIGIN', origin);
  });

  it('takes the name out of a Host header', () => {
    assert.deepEqual(['a:1', '[::1]:80', '[::1]', 'A.B', 'a:b', '[::1]x'].map(hostName), ['a', '::1', '::1', 'a.b', undefined, undefined]);
  });
});
