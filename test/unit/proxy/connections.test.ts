// The proxy's connection budget against real loopback sockets: a connection that sends nothing
// is closed after timeouts.clientIdle, one source cannot take more than maxConnectionsPerSource,
// at maxConnections the oldest idle connection makes room while busy ones are kept (and with none
// idle the new one is refused at once, counted), and the upstream pool stays at
// upstreamConnections however many keep-alive clients are connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { cluster, startOrigin, startTestProxy } from '../../support/proxy-fixtures.ts';

const open = async (port: number, localAddress = '127.0.0.1'): Promise<Socket> => {
  const s = connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
};
const closed = (s: Socket, ms: number): Promise<boolean> => new Promise((resolve) => {
  if (s.destroyed || s.readableEnded) { resolve(true); return; }
  const t = setTimeout(() => resolve(false), ms);
  s.once('close', () => { clearTimeout(t); resolve(true); });
});

test('a connection that sends nothing is closed after clientIdle, long before the socket timeout', async (t) => {
  const east = await startOrigin('127.0.0.2', (_req, res) => res.end('east'));
  const px = await startTestProxy({ clusters: [cluster('east', east.url)], timeouts: { clientIdle: 300, clientHeaders: 5000, idle: 5000, headers: 5000 } });
  t.after(async () => { await px.close(); await east.kill(); });
  const began = Date.now();
  const s = await open(px.port);
  assert.equal(await closed(s, 3000), true, 'closed');
  assert.ok(Date.now() - began >= 250, 'not before clientIdle');
  const r = await fetch(`${px.url}/`, { headers: { host: 'app.example.com' } });
  assert.equal(await r.text(), 'east', 'a real request on a new connection still works');
});

test('per source: beyond maxConnectionsPerSource new connections are refused at once, other sources are not', async (t) => {
  const east = await startOrigin('127.0.0.2', (_req, res) => res.end('east'));
  const px = await startTestProxy({ clusters: [cluster('east', east.url)], maxConnectionsPerSource: 3, timeouts: { clientIdle: 10_000 } });
  t.after(async () => { await px.close(); await east.kill(); });
  const held = [await open(px.port, '127.0.0.5'), await open(px.port, '127.0.0.5'), await open(px.port, '127.0.0.5')];
  t.after(() => { for (const s of held) s.destroy(); });
  const extra = await open(px.port, '127.0.0.5');
  assert.equal(await closed(extra, 2000), true, 'the fourth from 127.0.0.5 is closed');
  for (const s of held) assert.equal(s.destroyed, false);
  const other = await open(px.port, '127.0.0.6');
  assert.equal(await closed(other, 300), false, 'another source is admitted');
  other.destroy();
  assert.equal(await px.metric('switchyard_proxy_connections_refused_total', { reason: 'per_source' }), 1);
});

test('at maxConnections the oldest idle connection is closed for a new one; a request in progress is kept', async (t) => {
  let release: (() => void) | undefined;
  const east = await startOrigin('127.0.0.2', (req, res) => {
    if (req.url === '/slow') release = () => res.end('slow done');
    else res.end('east');
  });
  const px = await startTestProxy({ clusters: [cluster('east', east.url)], maxConnections: 3, timeouts: { clientIdle: 10_000 } });
  t.after(async () => { await px.close(); await east.kill(); });
  // the oldest connection is busy with a slow request
  const busy = await open(px.port);
  let busyReply = '';
  busy.on('data', (c) => { busyReply += c; });
  busy.write('GET /slow HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
  for (let i = 0; i < 100 && release === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(release, 'the slow request reached the origin');
  const idle1 = await open(px.port);
  const idle2 = await open(px.port);
  const fresh = await open(px.port);
  assert.equal(await closed(idle1, 2000), true, 'the oldest idle connection made room');
  assert.equal(idle2.destroyed, false);
  assert.equal(busy.destroyed, false, 'the busy connection is kept');
  fresh.write('GET / HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n');
  let freshReply = '';
  fresh.on('data', (c) => { freshReply += c; });
  await closed(fresh, 3000);
  assert.match(freshReply, /\r\n\r\neast$/);
  release!();
  for (let i = 0; i < 100 && !busyReply.includes('slow done'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(busyReply, /slow done/);
  assert.ok(await px.metric('switchyard_proxy_connections_evicted_total', {}) >= 1);
  busy.destroy();
  idle2.destroy();
});

test('at maxConnections with every connection busy, a new one is closed at once and counted as reason="limit"', async (t) => {
  const releases: Array<() => void> = [];
  const east = await startOrigin('127.0.0.2', (_req, res) => { releases.push(() => res.end('slow done')); });
  const px = await startTestProxy({ clusters: [cluster('east', east.url)], maxConnections: 2, timeouts: { clientIdle: 10_000 } });
  t.after(async () => { for (const r of releases) r(); await px.close(); await east.kill(); });
  const busy = [await open(px.port), await open(px.port)];
  t.after(() => { for (const s of busy) s.destroy(); });
  for (const s of busy) s.write('GET /slow HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
  for (let i = 0; i < 100 && releases.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(releases.length, 2, 'both slow requests reached the origin');
  const began = Date.now();
  const extra = await open(px.port);
  assert.equal(await closed(extra, 2000), true, 'the third connection is closed, not left to hang');
  assert.ok(Date.now() - began < 1000, `closed at once (${Date.now() - began} ms)`);
  for (const s of busy) assert.equal(s.destroyed, false, 'busy connections are kept');
  assert.equal(await px.metric('switchyard_proxy_connections_refused_total', { reason: 'limit' }), 1);
  assert.equal(await px.metric('switchyard_proxy_connections_evicted_total', {}), 0, 'nothing idle to evict');
});

test('upstream pools are bounded independently of client connections: 20 keep-alive clients share upstreamConnections', async (t) => {
  const upstreamSockets = new Set<string>();
  let inFlight = 0;
  let peak = 0;
  const east = await startOrigin('127.0.0.2', (req, res) => {
    upstreamSockets.add(`${req.socket.remotePort}`);
    inFlight++;
    peak = Math.max(peak, inFlight);
    setTimeout(() => { inFlight--; res.end('east'); }, 30);
  });
  const px = await startTestProxy({ clusters: [cluster('east', east.url)], upstreamConnections: 2, timeouts: { clientIdle: 10_000 } });
  t.after(async () => { await px.close(); await east.kill(); });
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => open(px.port, `127.0.0.${10 + i}`)));
  t.after(() => { for (const s of clients) s.destroy(); });
  const replies = clients.map((s) => new Promise<string>((resolve) => {
    let text = '';
    s.on('data', (c) => { text += c; if (text.endsWith('east')) resolve(text); });
    setTimeout(() => resolve(text), 5000);
  }));
  for (const s of clients) s.write('GET / HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
  for (const r of await Promise.all(replies)) assert.match(r, /^HTTP\/1\.1 200 [\s\S]*east$/);
  // Every client is still connected (keep-alive, idle), yet the origin saw at most two connections.
  for (const s of clients) assert.equal(s.destroyed, false, 'the client connection is kept alive');
  assert.ok(upstreamSockets.size <= 2, `the origin saw ${upstreamSockets.size} upstream connections`);
  assert.ok(peak <= 2, `at most 2 requests at once upstream (peak ${peak})`);
  const count = await new Promise<number>((resolve, reject) => east.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  assert.ok(count <= 2, `origin holds ${count} connections while 20 clients idle on keep-alive`);
});
