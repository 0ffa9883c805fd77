// The near anchor of the DNS benchmark: the simplest Node program that does the job, a bare
// dgram server answering every datagram with one prebuilt reply (`app.example.com A` with an
// OPT), only the query's ID copied in. No parsing, no lookup, no metrics: what Node itself allows
// per datagram. It gets the same two socket settings switchyard uses (large kernel buffers, no
// name lookup on send), so the gap to it is switchyard's own per-query work.
//   PORT=N node bench/dns/node-dgram.ts
// REUSE_PORT=1 binds with reusePort (bench/support/in-workers.ts runs it in several worker threads).
import { createSocket } from 'node:dgram';
import { HOST, PRIMARY, TTL } from './zone.ts';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be a port number');

const name = [...HOST.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
const reply = Buffer.from([
  0, 0, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1,            // ID (copied per query), QR AA, 1 question, 1 answer, 1 additional
  ...name, 0, 1, 0, 1,                                   // question: HOST A IN
  0xc0, 12, 0, 1, 0, 1, 0, 0, 0, TTL, 0, 4, ...PRIMARY.split('.').map(Number),
  0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,                // OPT: payload 1232, no options
]);

const socket = createSocket({ type: 'udp4', lookup: (address, _o, cb) => cb(null, address, 4), reusePort: process.env.REUSE_PORT === '1' });
socket.on('message', (msg, rinfo) => {
  const out = Buffer.allocUnsafe(reply.length);
  reply.copy(out);
  out[0] = msg[0];
  out[1] = msg[1];
  socket.send(out, rinfo.port, rinfo.address);
});
socket.bind({ address: '127.0.0.1', port, exclusive: true }, () => {
  socket.setRecvBufferSize(4 * 1024 * 1024);
  socket.setSendBufferSize(4 * 1024 * 1024);
  process.stdout.write(`node-dgram answering on 127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
