// dns.workers > 1: real worker threads with their own reusePort sockets on one loopback port.
// Every routing change reaches every worker, awaitGeneration resolves only once all of them serve
// it, and after that no worker answers the old address, even when each was busy with a backlog of
// queries when the change came (so a broadcast that was not yet applied would show).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createDnsWorkers } from '../../../src/dns/index.ts';
import type { DnsConfig } from '../../../src/config/types.ts';
import { isSwitchyardError } from '../../../src/errors.ts';
import { buildQuery, decode, udpExchange } from '../../support/dns-client.ts';
import { TCP_DEFAULTS, clusters, dnsConfig, fakeRouting, hostnames, zone } from '../../support/dns-fixtures.ts';
import { freePort } from '../../support/ports.ts';

const silent = pino({ level: 'silent' });
const ADDRESSES: Record<string, string[]> = { east: ['192.0.2.1', '192.0.2.2'], west: ['198.51.100.1'] };

async function start(workers: number, tcp: DnsConfig['tcp'] = TCP_DEFAULTS) {
  const routing = fakeRouting();
  const registry = new Registry();
  const port = await freePort();
  const dns = createDnsWorkers({ zone, hostnames, clusters, dns: dnsConfig({ listen: [{ host: '127.0.0.1', port, family: 4 }], workers, tcp }) }, { routing, logger: silent, registry, workers });
  await dns.start();
  return { dns, routing, registry, port };
}

const answer = async (port: number) => {
  const reply = await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 5000 });
  assert.ok(reply, 'a reply came');
  return decode(reply).answers.map((r) => r.address).sort().join(',');
};

/** Sends `count` queries from each of `sockets` fresh sockets without waiting: a backlog on every worker. */
async function flood(port: number, sockets: number, count: number): Promise<() => void> {
  const msg = buildQuery({ name: 'app.example.com' });
  const open = await Promise.all(Array.from({ length: sockets }, () => new Promise<ReturnType<typeof createSocket>>((resolve) => {
    const s = createSocket('udp4');
    s.on('message', () => {});
    s.bind(0, '127.0.0.1', () => resolve(s));
  })));
  for (const s of open) for (let i = 0; i < count; i++) s.send(msg, port, '127.0.0.1');
  let closed = false;
  return () => { if (!closed) { closed = true; for (const s of open) s.close(); } };
}

test('two workers on one port: both answer, a change is acknowledged by both, and none answers the old address after it', { timeout: 60_000 }, async (t) => {
  const { dns, routing, registry, port } = await start(2);
  t.after(() => dns.close());
  assert.deepEqual(dns.addresses().udp.map((a) => a.port), [port]);
  assert.equal(await answer(port), ADDRESSES.east.join(','));

  for (const next of ['west', 'east', 'west', 'east']) {
    const stop = await flood(port, 16, 300);
    t.after(stop);
    routing.set(next);
    const generation = routing.current().generation;
    await dns.awaitGeneration(generation);
    assert.ok(dns.workers().every((w) => w.serving >= generation), `every worker serves ${generation}: ${JSON.stringify(dns.workers())}`);
    // Fresh sockets (fresh source ports) land on both workers; every one of them must say `next`.
    const seen = await Promise.all(Array.from({ length: 48 }, () => answer(port)));
    assert.deepEqual([...new Set(seen)], [ADDRESSES[next].join(',')], `after the acknowledgement of generation ${generation} every answer is ${next}`);
    stop();
  }
  const perWorker = dns.workers().map((w) => w.replies);
  assert.ok(perWorker.every((n) => n > 0), `both workers answered: ${perWorker.join(', ')}`);

  const queries = (await registry.getSingleMetric('switchyard_dns_queries_total')!.get()).values.reduce((a, v) => a + v.value, 0);
  assert.equal(queries, perWorker.reduce((a, b) => a + b, 0), 'the metrics add up the workers\' counters');
  const gauge = (await registry.getSingleMetric('switchyard_dns_answer_table_generation')!.get()).values[0].value;
  assert.equal(gauge, routing.current().generation);
});

test('awaitGeneration waits for a generation not yet broadcast, and its signal aborts the wait', { timeout: 30_000 }, async (t) => {
  const { dns, routing } = await start(2);
  t.after(() => dns.close());
  const target = routing.current().generation + 1;
  let resolved = false;
  const waiting = dns.awaitGeneration(target).then(() => { resolved = true; });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(resolved, false, 'no worker serves it yet');
  routing.set('west');
  await waiting;
  assert.ok(dns.workers().every((w) => w.serving >= target));

  const ac = new AbortController();
  const aborted = dns.awaitGeneration(target + 5, ac.signal);
  ac.abort(new Error('step timed out'));
  await assert.rejects(aborted, /step timed out/);
});

test('a port another process holds without reusePort fails the start with SWY_LISTEN_FAILED and leaves no worker running', { timeout: 30_000 }, async () => {
  const holder = createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', () => resolve()));
  const port = holder.address().port;
  const dns = createDnsWorkers({ zone, hostnames, clusters, dns: dnsConfig({ listen: [{ host: '127.0.0.1', port, family: 4 }], workers: 2 }) }, { routing: fakeRouting(), logger: silent, registry: new Registry(), workers: 2 });
  await assert.rejects(dns.start(), (err) => isSwitchyardError(err, 'SWY_LISTEN_FAILED'));
  assert.deepEqual(dns.workers().map((w) => w.serving), [0, 0]);
  holder.close();
});

/** Opens `count` TCP connections from 127.0.0.1 that each send one byte of a message (never idle, so none can be evicted); resolves with how many are still open after `settleMs`. */
async function holdHalfMessages(port: number, count: number, settleMs: number, t: { after(fn: () => void): void }): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: count }, () => new Promise<Socket>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    s.once('connect', () => { s.write(Buffer.from([0])); resolve(s); });
    s.once('close', () => resolve(s));
  })));
  t.after(() => { for (const s of sockets) s.destroy(); });
  await new Promise((r) => setTimeout(r, settleMs));
  return sockets.filter((s) => !s.destroyed && !s.readableEnded).length;
}

test('the DNS-over-TCP caps are the process\'s, split between workers: two workers hold no more than maxConnections (or maxConnectionsPerSource) in all', { timeout: 60_000 }, async (t) => {
  const tcp = { ...TCP_DEFAULTS, idleTimeout: 20_000, messageTimeout: 20_000 };
  // 16 connections spread by the kernel's hash over two workers: with each worker holding the whole cap, up to 8 would stay.
  const total = await start(2, { ...tcp, maxConnections: 4, maxConnectionsPerSource: 100 });
  t.after(() => total.dns.close());
  const openTotal = await holdHalfMessages(total.port, 16, 500, t);
  assert.ok(openTotal <= 4 && openTotal >= 1, `${openTotal} of 16 connections held, maxConnections 4`);

  const perSource = await start(2, { ...tcp, maxConnections: 100, maxConnectionsPerSource: 4 });
  t.after(() => perSource.dns.close());
  const openSource = await holdHalfMessages(perSource.port, 16, 500, t);
  assert.ok(openSource <= 4 && openSource >= 1, `${openSource} of 16 connections from one source held, maxConnectionsPerSource 4`);
});
