/**
 * Closes a connection in stages, so that a refusal reaches a client that is still sending
 * (RFC 9112 §9.6, "the TCP reset problem"). When the node refuses a request before reading
 * its body (413, 415, a batch of too many operations), it answers with `Connection: close`.
 * Node's HTTP server then closes the socket as soon as the answer is written, with the
 * client's unread bytes still in the kernel: the kernel answers with a reset, and the client,
 * still writing its body, loses the answer it had not yet read and sees only ECONNRESET or
 * EPIPE.
 *
 * Instead: close the write side (FIN, after the answer), leave the read side open so the
 * client's bytes are taken rather than reset, and close fully once the client closes or after
 * `lingerMs`. Node's server calls `socket.destroySoon()` to close after a `Connection: close`
 * answer (lib/_http_server.js, resOnFinish); this replaces it on each connection the server
 * accepts.
 *
 * What a lingering connection costs: a socket for at most `lingerMs`, and, if Node's parser
 * was still draining the request's body, the reading of what arrives meanwhile (discarded).
 */
import type { Socket } from 'node:net';

export function closeInStages(socket: Socket, lingerMs: number): void {
  socket.destroySoon = () => {
    if (socket.destroyed) return;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
}
