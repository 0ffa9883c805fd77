// A byte-exact DNS test client: builds queries by hand (so tests control case, flags, counts and
// OPT), sends them over UDP or TCP, and decodes replies with dns2.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { Packet } from 'dns2';

export interface QueryOptions {
  id?: number;
  name: string;                 // as sent, case preserved
  type?: number;                // default A
  qclass?: number;              // default IN
  rd?: boolean;                 // default true
  cd?: boolean;
  opcode?: number;
  qr?: boolean;
  edns?: { udpSize?: number; version?: number; dnssecOk?: boolean; options?: Buffer } | undefined;
}

export function encodeWireName(name: string): Buffer {
  const parts: number[] = [];
  for (const label of name.split('.').filter((l) => l !== '')) {
    parts.push(label.length, ...Buffer.from(label, 'latin1'));
  }
  parts.push(0);
  return Buffer.from(parts);
}

export function optRecord(edns: NonNullable<QueryOptions['edns']>): Buffer {
  const options = edns.options ?? Buffer.alloc(0);
  const rr = Buffer.alloc(11 + options.length);
  rr.writeUInt16BE(41, 1);
  rr.writeUInt16BE(edns.udpSize ?? 1232, 3);
  rr[6] = edns.version ?? 0;
  rr[7] = edns.dnssecOk ? 0x80 : 0;
  rr.writeUInt16BE(options.length, 9);
  options.copy(rr, 11);
  return rr;
}

export function buildQuery(o: QueryOptions): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(o.id ?? 0x1234, 0);
  header[2] = (o.qr ? 0x80 : 0) | ((o.opcode ?? 0) << 3) | (o.rd === false ? 0 : 1);
  header[3] = o.cd ? 0x10 : 0;
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(o.edns ? 1 : 0, 10);
  const question = Buffer.concat([encodeWireName(o.name), Buffer.from([0, 0, 0, 0])]);
  question.writeUInt16BE(o.type ?? 1, question.length - 4);
  question.writeUInt16BE(o.qclass ?? 1, question.length - 2);
  return Buffer.concat([header, question, o.edns ? optRecord(o.edns) : Buffer.alloc(0)]);
}

export const decode = (reply: Buffer) => Packet.parse(reply);

/** Sends `msg` over UDP; resolves with the reply, or null when none arrives within `timeoutMs`. */
export function udpExchange(port: number, msg: Buffer, opts: { host?: string; timeoutMs?: number } = {}): Promise<Buffer | null> {
  const host = opts.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => { s.close(); resolve(null); }, opts.timeoutMs ?? 1000);
    s.once('error', (err) => { clearTimeout(t); s.close(); reject(err); });
    s.once('message', (reply) => { clearTimeout(t); s.close(); resolve(reply); });
    s.send(msg, port, host);
  });
}

/**
 * Opens one TCP connection, writes every message (length-framed, in one write: pipelined), and
 * resolves with the replies once `expect` of them arrived or the server closed or `timeoutMs` passed.
 */
export function tcpExchange(port: number, msgs: Buffer[], opts: { host?: string; timeoutMs?: number; expect?: number; localAddress?: string } = {}): Promise<Buffer[]> {
  const host = opts.host ?? '127.0.0.1';
  const expect = opts.expect ?? msgs.length;
  return new Promise((resolve, reject) => {
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const sock = connect({ host, port, localAddress: opts.localAddress });
    const done = () => { clearTimeout(t); sock.destroy(); resolve(replies); };
    const t = setTimeout(done, opts.timeoutMs ?? 2000);
    sock.once('error', (err) => { clearTimeout(t); reject(err); });
    sock.once('connect', () => {
      sock.write(Buffer.concat(msgs.map((m) => { const len = Buffer.alloc(2); len.writeUInt16BE(m.length); return Buffer.concat([len, m]); })));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const n = buf.readUInt16BE(0);
        replies.push(buf.subarray(2, 2 + n));
        buf = buf.subarray(2 + n);
      }
      if (replies.length >= expect) done();
    });
    sock.once('close', done);
  });
}
