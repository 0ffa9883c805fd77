// The proxy's connection budget against real loopback sockets: a connection that sends nothing
// is closed after timeouts.clientIdle, one source cannot take more than maxConnectionsPerSource,
// and at maxConnections the oldest idle connection makes room while busy ones are kept.
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
