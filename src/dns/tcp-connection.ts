// One DNS-over-TCP connection (RFC 7766): two-byte length framing, any number of queries,
// pipelined queries answered in order as they complete, an idle timeout, a deadline for each
// message (a whole message within messageTimeout of its first byte, so trickling bytes does not
// hold a slot), and reading paused while the client does not read its replies (so a client
// cannot make us buffer without bound).
import type { Socket } from 'node:net';
import { TRANSPORT } from './metrics.ts';
import type { Responder } from './responder.ts';

export interface TcpConnectionOptions { idleTimeout: number; messageTimeout: number }

export interface TcpConnection {
  /** No message half-received and no reply waiting to be sent: closing it loses nothing. */
  idle(): boolean;
}

/**
 * Serves `socket` until either side closes it, it stays idle for `idleTimeout` ms, or a message
 * is not complete `messageTimeout` ms after its first byte.
 */
export function serveTcpConnection(socket: Socket, respond: Responder, options: TcpConnectionOptions): TcpConnection {
  const source = socket.remoteAddress ?? '';
  let pending: Buffer | null = null;
  let deadline: NodeJS.Timeout | null = null;
  const expire = () => socket.destroy();
  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeout, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.once('close', () => { if (deadline !== null) clearTimeout(deadline); });
  socket.on('drain', () => socket.resume());
  socket.on('data', (chunk: Buffer) => {
    if (socket.writableEnded) return;   // closing: the server has ended its side
    const data = pending === null ? chunk : Buffer.concat([pending, chunk]);
    let p = 0;
    while (data.length - p >= 2) {
      const size = (data[p] << 8) | data[p + 1];
      if (data.length - p - 2 < size) break;
      const reply = respond(data.subarray(p + 2, p + 2 + size), TRANSPORT.TCP, source);
      p += 2 + size;
      if (reply !== null && !socket.write(reply)) socket.pause();
    }
    // Keep only the unfinished message (at most 65,537 bytes), copied so the chunk can go.
    pending = p === data.length ? null : Buffer.from(data.subarray(p));
    // The deadline runs from a message's first byte until it is complete; only split messages arm it.
    if (pending === null) {
      if (deadline !== null) { clearTimeout(deadline); deadline = null; }
    } else if (deadline === null || p > 0) {
      if (deadline !== null) clearTimeout(deadline);
      deadline = setTimeout(expire, options.messageTimeout);
    }
  });
  return { idle: () => pending === null && socket.writableLength === 0 };
}
