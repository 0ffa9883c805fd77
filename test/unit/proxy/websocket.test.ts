// Upgrade tunnelling: a WebSocket echo through the proxy, tunnels to the old side closed once a
// failover has settled, and a refused upgrade relayed as a normal answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { cluster, startOrigin, startTestProxy, type Origin } from '../../support/proxy-fixtures.ts';

async function echoOrigin(host: string, name: string, port = 0): Promise<Origin & { wss: WebSocketServer }> {
  const origin = await startOrigin(host, (_req, res) => res.end(name), port);
  const wss = new WebSocketServer({ server: origin.server });
  wss.on('connection', (ws, req) => {
    ws.send(`hello from ${name} for ${req.headers['x-forwarded-for']}`);
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${name}: ${String(data)}`, { binary: isBinary }));
  });
  const kill = origin.kill;
  return Object.assign(origin, { wss, kill: async () => { for (const c of wss.clients) c.terminate(); wss.close(); await kill(); } });
}

async function open(url: string): Promise<{ ws: WebSocket; messages: string[]; next(): Promise<string> }> {
  const ws = new WebSocket(url, { headers: { host: 'app.example.com' }, handshakeTimeout: 5000 });
  const messages: string[] = [];
  const waiters: Array<(m: string) => void> = [];
  ws.on('message', (d) => {
    const m = String(d);
    const w = waiters.shift();
    if (w) w(m); else messages.push(m);
  });
  await once(ws, 'open');
  return {
    ws, messages,
    next: () => (messages.length > 0 ? Promise.resolve(messages.shift()!) : new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message within 3 s')), 3000);
      waiters.push((m) => { clearTimeout(t); resolve(m); });
    })),
  };
}

test('WebSocket echo through the proxy, counted in switchyard_proxy_websockets_active', async (t) => {
  const east = await echoOrigin('127.0.0.2', 'east');
  const px = await startTestProxy({ clusters: [cluster('east', east.url)] });
  t.after(async () => { await px.close(); await east.kill(); });

  const c = await open(`ws://127.0.0.1:${px.port}/chat`);
  assert.equal(await c.next(), 'hello from east for 127.0.0.1');
  c.ws.send('ping');
  assert.equal(await c.next(), 'east: ping');
  const big = Buffer.alloc(2 * 1024 * 1024, 9);
  c.ws.send(big);
  const echoed = await new Promise<Buffer>((resolve) => c.ws.once('message', (d) => resolve(d as Buffer)));
  assert.ok(echoed.equals(big), 'a 2 MiB binary frame crosses both ways intact');
  assert.equal(await px.metric('switchyard_proxy_websockets_active', { cluster: 'east' }), 1);
  c.ws.close();
  await once(c.ws, 'close');
  const deadline = Date.now() + 2000;
  while (await px.metric('switchyard_proxy_websockets_active', { cluster: 'east' }) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await px.metric('switchyard_proxy_websockets_active', { cluster: 'east' }), 0);
  assert.equal(await px.metric('switchyard_proxy_requests_total', { cluster: 'east', status_class: '1xx' }), 1);
});

test('tunnels to the old side stay open during the transition and close once it has settled', async (t) => {
  const east = await echoOrigin('127.0.0.2', 'east');
  const west = await echoOrigin('127.0.0.3', 'west', east.port);
  const px = await startTestProxy({ clusters: [cluster('east', east.url), cluster('west', west.url)] });
  t.after(async () => { await px.close(); await east.kill(); await west.kill(); });

  const old = await open(`ws://127.0.0.1:${px.port}/live`);
  assert.match(await old.next(), /^hello from east/);
  const closed = once(old.ws, 'close');

  px.routing.set('west', 'failing-over');
  old.ws.send('still there?');
  assert.equal(await old.next(), 'east: still there?', 'an open tunnel survives while the transition runs');
  const fresh = await open(`ws://127.0.0.1:${px.port}/live`);
  assert.match(await fresh.next(), /^hello from west/, 'new upgrades go to the new active cluster');

  px.routing.set('west', 'failed-over');
  await Promise.race([closed, new Promise((_, rej) => setTimeout(() => rej(new Error('the tunnel to east was not closed')), 3000))]);
  fresh.ws.send('and you?');
  assert.equal(await fresh.next(), 'west: and you?', 'the tunnel to the new side is untouched');
  fresh.ws.close();
});

test('an upgrade the origin refuses is relayed as its answer; an unreachable upstream gets a 502 with code', async (t) => {
  const east = await startOrigin('127.0.0.2', (_req, res) => res.end('plain'));
  east.server.on('upgrade', (_req, socket) => {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nno way');
  });
  const px = await startTestProxy({ clusters: [cluster('east', east.url)] });
  t.after(async () => { await px.close(); await east.kill(); });

  const ws = new WebSocket(`ws://127.0.0.1:${px.port}/x`, { headers: { host: 'app.example.com' }, handshakeTimeout: 5000 });
  const [, res] = await once(ws, 'unexpected-response') as [unknown, import('node:http').IncomingMessage];
  assert.equal(res.statusCode, 403);
  let body = '';
  for await (const c of res) body += c;
  assert.equal(body, 'no way');
  ws.on('error', () => {});
  ws.terminate();

  await east.kill();
  const ws2 = new WebSocket(`ws://127.0.0.1:${px.port}/x`, { headers: { host: 'app.example.com' }, handshakeTimeout: 5000 });
  const [, res2] = await once(ws2, 'unexpected-response') as [unknown, import('node:http').IncomingMessage];
  assert.equal(res2.statusCode, 502);
  assert.equal(res2.headers['x-switchyard-error'], 'SWY_PROXY_UPSTREAM_UNREACHABLE');
  ws2.on('error', () => {});
  ws2.terminate();
});
