// Throws tens of thousands of random, structured-random and mutated packets at a running server
// (in-process, loopback, port 0) over UDP and TCP, then checks that it still answers correctly,
// that every reply it sent was a well-formed DNS response, and that its memory, rate-limit table
// and TCP connection count did not grow with the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createDnsServer } from '../../../src/dns/index.ts';
import { buildQuery, decode, encodeWireName, optRecord, tcpExchange, udpExchange } from '../../support/dns-client.ts';
import { clusters, dnsConfig, fakeRouting, hostnames, zone, TCP_DEFAULTS } from '../../support/dns-fixtures.ts';

const UDP_PACKETS = 20_000;
const TCP_CONNECTIONS = 60;
const TCP_MESSAGES_PER_CONNECTION = 60;
const SOURCE_PREFIXES = 64;
const SEED = Number(process.env.DNS_FUZZ_SEED ?? 20261121);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const u16 = (n: number) => Buffer.from([n >> 8 & 255, n & 255]);
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

const label = fc.oneof(
  fc.constantFrom('app', 'APP', 'example', 'ExAmPlE', 'com', 'eu', 'api', 'ns1', 'nope', 'org', '*', '\u00c0'),
  fc.uint8Array({ minLength: 0, maxLength: 70 }).map((b) => Buffer.from(b).toString('latin1')),
);
const nameBytes = fc.oneof(
  { weight: 6, arbitrary: fc.array(label, { maxLength: 6 }).map((ls) => encodeWireName(ls.join('.'))) },
  { weight: 1, arbitrary: fc.array(label, { maxLength: 6 }).map((ls) => encodeWireName(ls.join('.')).subarray(0, -1)) },     // unterminated
  { weight: 1, arbitrary: fc.tuple(fc.array(label, { maxLength: 3 }), fc.integer({ min: 0, max: 0x3fff })).map(([ls, at]) => Buffer.concat([encodeWireName(ls.join('.')).subarray(0, -1), u16(0xc000 | at)])) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }).map((b) => Buffer.from(b)) },
);
const qtype = fc.oneof(fc.constantFrom(1, 2, 6, 28, 255, 41, 251, 252, 15, 16, 65, 0), fc.integer({ min: 0, max: 0xffff }));
const qclass = fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(3, 4, 254, 255, 0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) });
const count = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.constantFrom(2, 3, 255, 65535) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) });
const option = fc.tuple(fc.integer({ min: 0, max: 0xffff }), bytes(40), fc.integer({ min: -3, max: 3 })).map(([code, data, skew]) => Buffer.concat([u16(code), u16(Math.max(0, data.length + skew)), data]));
const opt = fc.record({
  udpSize: fc.oneof(fc.constantFrom(0, 512, 1232, 4096, 65535), fc.integer({ min: 0, max: 0xffff })),
  version: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
  dnssecOk: fc.boolean(),
  options: fc.array(option, { maxLength: 3 }).map((o) => Buffer.concat(o)),
}).map((e) => optRecord(e));
const record = fc.tuple(nameBytes, qtype, qclass, fc.integer({ min: 0, max: 0xffffffff }), bytes(30), fc.integer({ min: -2, max: 2 }))
  .map(([n, t, c, ttl, rdata, skew]) => { const fixed = Buffer.alloc(10); fixed.writeUInt16BE(t, 0); fixed.writeUInt16BE(c, 2); fixed.writeUInt32BE(ttl, 4); fixed.writeUInt16BE(Math.max(0, rdata.length + skew), 8); return Buffer.concat([n, fixed, rdata]); });

/** A packet shaped like a query, with every field drawn from valid, edge and random values. */
const structured = fc.record({
  id: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0x0100, 0x0000, 0x0110) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  qd: count, an: count, ns: count, ar: count,
  name: nameBytes, type: qtype, cls: qclass,
  records: fc.array(fc.oneof(opt, record), { maxLength: 3 }),
  trailer: fc.oneof({ weight: 5, arbitrary: fc.constant(Buffer.alloc(0)) }, { weight: 1, arbitrary: bytes(20) }),
}).map((p) => Buffer.concat([u16(p.id), u16(p.flags), u16(p.qd), u16(p.an), u16(p.ns), u16(p.ar), p.name, u16(p.type), u16(p.cls), ...p.records, p.trailer]));

const valid = fc.constantFrom(
  buildQuery({ name: 'app.example.com' }),
  buildQuery({ name: 'APP.example.COM', type: 28, edns: { udpSize: 4096, dnssecOk: true, options: Buffer.from('000a00080102030405060708', 'hex') } }),
  buildQuery({ name: 'example.com', type: 2, edns: {} }),
  buildQuery({ name: 'nope.example.com', type: 255 }),
);
/** A valid query or a structured one, then byte edits, a cut, or a duplicated slice. */
const mutated = fc.tuple(fc.oneof(valid, structured), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), fc.constantFrom('edit', 'cut', 'dup'))
  .map(([base, edits, at, how]) => {
    const b = Buffer.from(base);
    if (how === 'cut') return b.subarray(0, at % (b.length + 1));
    if (how === 'dup') { const i = at % (b.length + 1); return Buffer.concat([b.subarray(0, i), b.subarray(i - Math.min(i, 9), i), b.subarray(i)]); }
    for (const [i, v] of edits) b[i % b.length] = v;
    return b;
  });

const packet = fc.oneof({ weight: 2, arbitrary: bytes(600) }, { weight: 4, arbitrary: structured }, { weight: 4, arbitrary: mutated });

/** Every reply must be a response that dns2 decodes without error, and fit its transport. */
function checkReply(reply: Buffer, limit: number): string | null {
  if (reply.length < 12 || reply.length > limit) return `reply of ${reply.length} bytes`;
  if ((reply[2] & 0x80) === 0) return 'QR clear';
  if ((reply[3] & 0x80) !== 0) return 'RA set';
  try {
    const p = decode(reply);
    if (p.errors.length > 0) return `dns2 could not decode: ${p.errors[0].message}`;
    if (p.questions.length > 1) return `${p.questions.length} questions`;
  } catch (err) {
    return `dns2 threw: ${(err as Error).message}`;
  }
  return null;
}

const bindSocket = (address: string) => new Promise<UdpSocket>((resolve, reject) => {
  const s = createSocket('udp4');
  s.once('error', reject);
  s.bind(0, address, () => resolve(s));
});

test('fuzz: random and mutated packets over UDP and TCP leave the server answering, bounded and well-behaved', { timeout: 120_000 }, async (t) => {
  const routing = fakeRouting();
  const registry = new Registry();
  const server = createDnsServer(
    { zone, hostnames, clusters, dns: dnsConfig({ rateLimit: { responsesPerSecond: 2000, slip: 2, window: 5000, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }, tcp: { ...TCP_DEFAULTS, idleTimeout: 500, maxConnections: 40 } }) },
    { routing, logger: pino({ level: 'silent' }), registry },
  );
  await server.start();
  t.after(() => server.close());
  const port = server.addresses().udp[0].port;
  const gauge = async (name: string) => ((await registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0);

  gc();
  const before = process.memoryUsage();

  // UDP, from SOURCE_PREFIXES different /24s of 127/8, in bursts small enough for the socket buffers.
  const sockets = await Promise.all(Array.from({ length: SOURCE_PREFIXES }, (_, i) => bindSocket(`127.1.${i}.1`)));
  t.after(() => sockets.forEach((s) => s.close()));
  const problems: string[] = [];
  let udpReplies = 0;
  for (const s of sockets) {
    s.on('message', (reply) => {
      udpReplies++;
      const problem = checkReply(reply, 1232);
      if (problem !== null && problems.length < 10) problems.push(`udp: ${problem}: ${reply.toString('hex')}`);
    });
  }
  const udpPackets = fc.sample(packet, { numRuns: UDP_PACKETS, seed: SEED });
  for (let i = 0; i < udpPackets.length; i += 256) {
    for (let j = i; j < Math.min(i + 256, udpPackets.length); j++) sockets[j % SOURCE_PREFIXES].send(udpPackets[j], port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 2));
  }

  // TCP: well-framed fuzz messages, then garbage framing; some connections left half-sent.
  const tcpPackets = fc.sample(packet, { numRuns: TCP_CONNECTIONS * TCP_MESSAGES_PER_CONNECTION, seed: SEED + 1 });
  let tcpReplies = 0;
  for (let c = 0; c < TCP_CONNECTIONS; c += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => new Promise<void>((resolve) => {
      const n = c + k;
      const msgs = tcpPackets.slice(n * TCP_MESSAGES_PER_CONNECTION, (n + 1) * TCP_MESSAGES_PER_CONNECTION);
      const framed = Buffer.concat(msgs.flatMap((m) => [u16(m.length), m]));
      const tail = n % 3 === 0 ? Buffer.from([0xff, 0xff, 1, 2, 3]) : n % 3 === 1 ? Buffer.from([0]) : Buffer.alloc(0);
      const sock = connect({ host: '127.0.0.1', port });
      let buf = Buffer.alloc(0);
      const finish = () => { clearTimeout(timer); sock.destroy(); resolve(); };
      const timer = setTimeout(finish, 3000);
      sock.on('error', finish);
      sock.on('close', finish);
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const reply = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + reply.length);
          tcpReplies++;
          const problem = checkReply(reply, 65535);
          if (problem !== null && problems.length < 10) problems.push(`tcp: ${problem}: ${reply.toString('hex')}`);
        }
      });
      // Half-sent connections are left for the idle timeout to close; the others close after writing.
      sock.on('connect', () => { sock.write(Buffer.concat([framed, tail])); if (tail.length === 0) sock.end(); });
    })));
  }

  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(problems, [], 'every reply is a well-formed response');
  assert.ok(udpReplies > UDP_PACKETS / 4, `the server answered a good share of the UDP packets (${udpReplies})`);
  assert.ok(tcpReplies > TCP_CONNECTIONS * TCP_MESSAGES_PER_CONNECTION / 4, `and of the TCP messages (${tcpReplies})`);

  // Still correct, over UDP from a fresh source and over TCP.
  const fresh = await udpExchange(port, buildQuery({ id: 4242, name: 'App.Example.Com' }), { timeoutMs: 2000 });
  assert.ok(fresh, 'answers over UDP');
  assert.deepEqual(decode(fresh).answers.map((r) => r.address).sort(), ['192.0.2.1', '192.0.2.2']);
  const [overTcp] = await tcpExchange(port, [buildQuery({ id: 4243, name: 'example.com', type: 6 })]);
  assert.equal(decode(overTcp).answers[0].type, 6);

  // Bounded: rate-limit accounts per prefix (not per packet), TCP connections all gone after the
  // idle timeout, heap back within a few MB of where it started.
  assert.ok(await gauge('switchyard_dns_ratelimit_entries') <= SOURCE_PREFIXES + 1, 'one rate-limit account per source prefix');
  for (let i = 0; i < 50 && await gauge('switchyard_dns_tcp_connections') > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await gauge('switchyard_dns_tcp_connections'), 0, 'every TCP connection closed (half-sent ones by the idle timeout)');
  gc();
  const after = process.memoryUsage();
  const heapGrowth = (after.heapUsed - before.heapUsed) / 2 ** 20;
  t.diagnostic(`udp replies ${udpReplies}/${UDP_PACKETS}, tcp replies ${tcpReplies}/${TCP_CONNECTIONS * TCP_MESSAGES_PER_CONNECTION}, heap ${heapGrowth.toFixed(1)} MiB, rss ${((after.rss - before.rss) / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(heapGrowth < 20, `heap grew ${heapGrowth.toFixed(1)} MiB`);
});
