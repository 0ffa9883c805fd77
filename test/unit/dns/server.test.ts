// The DNS server in-process on loopback sockets (port 0): transports, routing swaps, TCP rules,
// rate limiting, metrics, start and close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { DnsConfig } from '../../../src/config/types.ts';
import { createDnsServer } from '../../../src/dns/index.ts';
import { isSwitchyardError } from '../../../src/errors.ts';
import { buildQuery, decode, tcpExchange, udpExchange } from '../../support/dns-client.ts';
import { clusters, dnsConfig, fakeRouting, hostnames, zone, TCP_DEFAULTS } from '../../support/dns-fixtures.ts';

const silent = pino({ level: 'silent' });

async function start(over: Partial<DnsConfig> = {}, now?: () => number) {
  const routing = fakeRouting();
  const registry = new Registry();
  const server = createDnsServer({ zone, hostnames, clusters, dns: dnsConfig(over) }, { routing, logger: silent, registry, now });
  await server.start();
  const port = server.addresses().udp[0].port;
  return { server, routing, registry, port };
}

async function metric(registry: Registry, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `metric ${name} is registered`);
  return (await m.get()).values as Array<{ labels: Record<string, string | number>; value: number }>;
}
const sum = (values: Array<{ labels: Record<string, string | number>; value: number }>, labels: Record<string, string> = {}) =>
  values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);

const addressesOf = (reply: Buffer | null) => decode(reply!).answers.map((r) => r.address).sort();

test('UDP and TCP on the same port; IPv4 and IPv6 listeners side by side', async (t) => {
  const { server, port } = await start({ listen: [{ host: '127.0.0.1', port: 0, family: 4 }, { host: '::1', port: 0, family: 6 }] });
  t.after(() => server.close());
  const { udp, tcp } = server.addresses();
  assert.equal(udp.length, 2);
  assert.deepEqual(tcp.map((a) => a.port), udp.map((a) => a.port));
  assert.deepEqual(udp.map((a) => a.address), ['127.0.0.1', '::1']);
  const msg = buildQuery({ name: 'app.example.com' });
  assert.deepEqual(addressesOf(await udpExchange(port, msg)), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(addressesOf(await udpExchange(udp[1].port, msg, { host: '::1' })), ['192.0.2.1', '192.0.2.2']);
  const [overTcp] = await tcpExchange(tcp[1].port, [buildQuery({ name: 'app.example.com', type: 28 })], { host: '::1' });
  assert.deepEqual(addressesOf(overTcp), ['2001:db8::1']);
});

test('a routing change swaps the whole answer table (and the SOA serial and the generation gauge)', async (t) => {
  const { server, routing, registry, port } = await start();
  t.after(() => server.close());
  assert.deepEqual(addressesOf(await udpExchange(port, buildQuery({ name: 'app.example.com' }))), ['192.0.2.1', '192.0.2.2']);
  routing.set('west');
  assert.deepEqual(addressesOf(await udpExchange(port, buildQuery({ name: 'app.example.com' }))), ['198.51.100.1']);
  const [aaaa] = await tcpExchange(port, [buildQuery({ name: 'APP.example.com', type: 28 })]);
  assert.equal(decode(aaaa.subarray(0)).answers.length, 0, 'west has no IPv6: NODATA');
  const soa = decode((await udpExchange(port, buildQuery({ name: 'example.com', type: 6 })))!).answers[0];
  assert.equal(soa.serial, 2);
  assert.equal(sum(await metric(registry, 'switchyard_dns_answer_table_generation')), 2);
  routing.set('east');
  assert.deepEqual(addressesOf(await udpExchange(port, buildQuery({ name: 'app.example.com' }))), ['192.0.2.1', '192.0.2.2']);
});

test('a routing change naming an unknown cluster keeps the previous answers', async (t) => {
  const { server, routing, registry, port } = await start();
  t.after(() => server.close());
  routing.set('north');
  assert.deepEqual(addressesOf(await udpExchange(port, buildQuery({ name: 'app.example.com' }))), ['192.0.2.1', '192.0.2.2']);
  assert.equal(sum(await metric(registry, 'switchyard_dns_answer_table_generation')), 1);
});

test('TCP: pipelined queries in one write, answered in order on one connection', async (t) => {
  const { server, port } = await start();
  t.after(() => server.close());
  const msgs = [
    buildQuery({ id: 1, name: 'app.example.com' }),
    buildQuery({ id: 2, name: 'nope.example.com' }),
    buildQuery({ id: 3, name: 'example.org' }),
    buildQuery({ id: 4, name: 'example.com', type: 2 }),
  ];
  const replies = (await tcpExchange(port, msgs)).map(decode);
  assert.deepEqual(replies.map((r) => r.header.id), [1, 2, 3, 4]);
  assert.deepEqual(replies.map((r) => r.header.rcode), [0, 3, 5, 0]);
});

test('TCP: a query split across many small writes is answered', async (t) => {
  const { server, port } = await start();
  t.after(() => server.close());
  const msg = buildQuery({ id: 9, name: 'app.example.com' });
  const framed = Buffer.concat([Buffer.from([0, msg.length]), msg]);
  const sock = connect({ host: '127.0.0.1', port });
  t.after(() => sock.destroy());
  await once(sock, 'connect');
  for (const byte of framed) { sock.write(Buffer.from([byte])); await new Promise((r) => setImmediate(r)); }
  const [chunk] = await once(sock, 'data') as [Buffer];
  assert.equal(decode(chunk.subarray(2)).header.id, 9);
  sock.destroy();
});

test('TCP: an idle connection is closed after dns.tcp.idleTimeout', async (t) => {
  const { server, port } = await start({ tcp: { ...TCP_DEFAULTS, idleTimeout: 200, maxConnections: 10 } });
  t.after(() => server.close());
  const sock = connect({ host: '127.0.0.1', port });
  t.after(() => sock.destroy());
  const began = Date.now();
  await once(sock, 'connect');
  await Promise.race([once(sock, 'close'), new Promise((_, rej) => setTimeout(() => rej(new Error('not closed within 3 s')), 3000))]);
  assert.ok(Date.now() - began >= 150, 'not before the timeout');
});

test('TCP: at dns.tcp.maxConnections the oldest idle connection makes room; when none is idle the new one is closed', async (t) => {
  const { server, registry, port } = await start({ tcp: { ...TCP_DEFAULTS, idleTimeout: 10_000, maxConnections: 3 } });
  t.after(() => server.close());
  const held: Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  const open = async (partial: boolean) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    held.push(s);
    await once(s, 'connect');
    if (partial) s.write(Buffer.from([0, 40, 1]));     // a message begun, not finished: busy
    return s;
  };
  const waitOpen = async (n: number) => {
    for (let i = 0; i < 100 && sum(await metric(registry, 'switchyard_dns_tcp_connections')) !== n; i++) await new Promise((r) => setTimeout(r, 10));
  };
  for (let i = 0; i < 3; i++) await open(true);
  await waitOpen(3);
  await new Promise((r) => setTimeout(r, 50));
  const refused = await tcpExchange(port, [buildQuery({ name: 'app.example.com' })], { timeoutMs: 1000 });
  assert.equal(refused.length, 0, 'every slot busy: the fourth connection got no answer');
  assert.equal(sum(await metric(registry, 'switchyard_dns_tcp_rejected_total')), 1);
  held.shift()!.destroy();
  await waitOpen(2);
  const idle = await open(false);
  await waitOpen(3);
  const idleClosed = once(idle, 'close');
  assert.equal((await tcpExchange(port, [buildQuery({ name: 'app.example.com' })])).length, 1, 'the idle connection made room');
  await idleClosed;
  assert.equal(sum(await metric(registry, 'switchyard_dns_tcp_evicted_total')), 1);
  assert.equal(held.filter((s) => !s.destroyed).length, 2, 'the busy ones were kept');
});

test('TCP: one source cannot hold more than maxConnectionsPerSource; its oldest idle one goes first', async (t) => {
  const { server, registry, port } = await start({ tcp: { ...TCP_DEFAULTS, maxConnections: 100, maxConnectionsPerSource: 2 } });
  t.after(() => server.close());
  const a = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.7' });
  const b = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.7' });
  t.after(() => { a.destroy(); b.destroy(); });
  await Promise.all([once(a, 'connect'), once(b, 'connect')]);
  for (let i = 0; i < 100 && sum(await metric(registry, 'switchyard_dns_tcp_connections')) !== 2; i++) await new Promise((r) => setTimeout(r, 10));
  const aClosed = once(a, 'close');
  const replies = await tcpExchange(port, [buildQuery({ name: 'app.example.com' })], { localAddress: '127.0.0.7' });
  assert.equal(replies.length, 1);
  await aClosed;
  assert.equal(b.destroyed, false, 'only the oldest of the source was closed');
});

test('TCP: a message trickled byte by byte is cut at messageTimeout even though every byte resets the idle timeout', async (t) => {
  const { server, port } = await start({ tcp: { ...TCP_DEFAULTS, idleTimeout: 10_000, messageTimeout: 400 } });
  t.after(() => server.close());
  const q = buildQuery({ name: 'app.example.com' });
  const framed = Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q]);
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  t.after(() => s.destroy());
  await once(s, 'connect');
  let got = 0;
  s.on('data', (c) => { got += c.length; });
  const began = Date.now();
  let i = 0;
  const timer = setInterval(() => { if (i < framed.length && !s.destroyed) s.write(framed.subarray(i, ++i)); }, 100);
  t.after(() => clearInterval(timer));
  await Promise.race([new Promise((r) => s.once('close', r)), new Promise((_, rej) => setTimeout(() => rej(new Error('not closed within 5 s')), 5000))]);
  const ms = Date.now() - began;
  assert.ok(ms >= 350 && ms < 3000, `closed after ${ms} ms`);
  assert.equal(got, 0, 'no answer to a message that never completed in time');
});

test('no reply to short messages and responses; FORMERR, NOTIMP and BADVERS replies', async (t) => {
  const { server, registry, port } = await start();
  t.after(() => server.close());
  assert.equal(await udpExchange(port, Buffer.from([1, 2, 3]), { timeoutMs: 300 }), null);
  assert.equal(await udpExchange(port, buildQuery({ name: 'app.example.com', qr: true }), { timeoutMs: 300 }), null);
  const formerr = await udpExchange(port, buildQuery({ name: 'app.example.com' }).subarray(0, 14));
  assert.equal(decode(formerr!).header.rcode, 1);
  assert.equal(formerr!.length, 12, 'header only: the question did not parse');
  const notimp = decode((await udpExchange(port, buildQuery({ name: 'app.example.com', opcode: 5 })))!);
  assert.equal(notimp.header.rcode, 4);
  assert.equal(notimp.header.opcode, 5);
  const badvers = decode((await udpExchange(port, buildQuery({ name: 'app.example.com', edns: { version: 1 } })))!);
  assert.equal(badvers.header.rcode, 16);
  assert.equal(badvers.answers.length, 0);
  const dropped = await metric(registry, 'switchyard_dns_dropped_total');
  assert.equal(sum(dropped, { reason: 'short' }), 1);
  assert.equal(sum(dropped, { reason: 'response' }), 1);
  const queries = await metric(registry, 'switchyard_dns_queries_total');
  assert.equal(sum(queries, { qtype: 'none', rcode: 'FORMERR', transport: 'udp' }), 1);
  assert.equal(sum(queries, { qtype: 'A', rcode: 'NOTIMP' }), 1);
  assert.equal(sum(queries, { qtype: 'A', rcode: 'BADVERS' }), 1);
});

test('queries_total labels: qtype (unknown types as "other"), rcode, transport', async (t) => {
  const { server, registry, port } = await start();
  t.after(() => server.close());
  await udpExchange(port, buildQuery({ name: 'app.example.com' }));
  await udpExchange(port, buildQuery({ name: 'app.example.com', type: 65 }));
  await udpExchange(port, buildQuery({ name: 'app.example.com', type: 4321 }));
  await udpExchange(port, buildQuery({ name: 'nope.example.com', type: 28 }));
  await tcpExchange(port, [buildQuery({ name: 'example.net' })]);
  const q = await metric(registry, 'switchyard_dns_queries_total');
  assert.equal(sum(q, { qtype: 'A', rcode: 'NOERROR', transport: 'udp' }), 1);
  assert.equal(sum(q, { qtype: 'HTTPS', rcode: 'NOERROR', transport: 'udp' }), 1);
  assert.equal(sum(q, { qtype: 'other', rcode: 'NOERROR', transport: 'udp' }), 1);
  assert.equal(sum(q, { qtype: 'AAAA', rcode: 'NXDOMAIN', transport: 'udp' }), 1);
  assert.equal(sum(q, { qtype: 'A', rcode: 'REFUSED', transport: 'tcp' }), 1);
  assert.equal(sum(q), 5);
});

test('rate limiting: UDP replies beyond the rate are dropped or slipped (TC=1); TCP is never limited', async (t) => {
  let clock = 1_000_000;
  const { server, registry, port } = await start({ rateLimit: { responsesPerSecond: 5, slip: 2, window: 15_000, ipv4PrefixLength: 24, ipv6PrefixLength: 56 } }, () => clock);
  t.after(() => server.close());
  const socket = createSocket('udp4');
  t.after(() => socket.close());
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  for (let id = 0; id < 25; id++) socket.send(buildQuery({ id, name: 'app.example.com' }), port, '127.0.0.1');
  for (let i = 0; i < 100 && replies.length < 15; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  const decoded = replies.map(decode);
  const full = decoded.filter((p) => p.header.tc === 0);
  const slipped = decoded.filter((p) => p.header.tc === 1);
  assert.equal(full.length, 5);
  assert.equal(slipped.length, 10, 'every second limited reply slips');
  assert.ok(slipped.every((p) => p.answers.length === 0 && p.questions.length === 1));
  assert.equal(sum(await metric(registry, 'switchyard_dns_dropped_total'), { reason: 'ratelimited' }), 10);
  assert.equal(sum(await metric(registry, 'switchyard_dns_ratelimit_slipped_total')), 10);
  assert.equal(sum(await metric(registry, 'switchyard_dns_ratelimit_entries')), 1);
  const overTcp = await tcpExchange(port, Array.from({ length: 20 }, (_, id) => buildQuery({ id, name: 'app.example.com' })));
  assert.equal(overTcp.length, 20);
  assert.ok(overTcp.map(decode).every((p) => p.header.tc === 0 && p.answers.length === 2));
  clock += 60_000;
  assert.equal(decode((await udpExchange(port, buildQuery({ name: 'app.example.com' })))!).answers.length, 2, 'credits came back');
});

test('start fails with SWY_LISTEN_FAILED naming the address when the UDP or TCP port is taken', async (t) => {
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  t.after(() => udp.close());
  const udpPort = udp.address().port;
  const a = createDnsServer({ zone, hostnames, clusters, dns: dnsConfig({ listen: [{ host: '127.0.0.1', port: udpPort, family: 4 }] }) }, { routing: fakeRouting(), logger: silent, registry: new Registry() });
  await assert.rejects(a.start(), (e) => isSwitchyardError(e, 'SWY_LISTEN_FAILED') && e.message.includes(`udp 127.0.0.1:${udpPort}`));

  const tcp = createTcpServer();
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  t.after(() => tcp.close());
  const tcpPort = (tcp.address() as { port: number }).port;
  const b = createDnsServer({ zone, hostnames, clusters, dns: dnsConfig({ listen: [{ host: '127.0.0.1', port: tcpPort, family: 4 }] }) }, { routing: fakeRouting(), logger: silent, registry: new Registry() });
  await assert.rejects(b.start(), (e) => isSwitchyardError(e, 'SWY_LISTEN_FAILED') && e.message.includes(`tcp 127.0.0.1:${tcpPort}`));
  // Nothing stays bound after a failed start: the UDP port of the second attempt is free again.
  const probe = createSocket('udp4');
  await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.bind(tcpPort, '127.0.0.1', resolve); });
  probe.close();
});

test('close: stops answering, lets a connected TCP client take its reply, unsubscribes from routing', async () => {
  const { server, routing, port } = await start();
  assert.equal(routing.subscribers(), 1);
  const sock = connect({ host: '127.0.0.1', port });
  await once(sock, 'connect');
  const msg = buildQuery({ id: 77, name: 'app.example.com' });
  const data = once(sock, 'data');
  sock.write(Buffer.concat([Buffer.from([0, msg.length]), msg]));
  const [chunk] = await data as [Buffer];
  const closed = once(sock, 'end');
  await Promise.all([server.close(), closed.then(() => sock.end())]);
  assert.equal(decode(chunk.subarray(2)).header.id, 77);
  assert.equal(routing.subscribers(), 0);
  assert.equal(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 }), null);
  sock.destroy();
});
