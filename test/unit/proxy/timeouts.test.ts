// Each proxy timeout against real loopback peers, with its own code and status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { request, type IncomingMessage } from 'node:http';
import { cluster, collect, parseHead, rawExchange, startBlackhole, startOrigin, startTestProxy } from '../../support/proxy-fixtures.ts';

async function fetchText(url: string, host = 'app.example.com'): Promise<{ status: number; code: string | null; body: string; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(url, { headers: { host }, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, code: res.headers.get('x-switchyard-error'), body: await res.text(), ms: Date.now() - t0 };
}

test('connect timeout: 504 SWY_PROXY_CONNECT_TIMEOUT, reported as a passive failure; retried on the healthy target of a transition in progress', async (t) => {
  const hole = await startBlackhole('127.0.0.2');
  const west = await startOrigin('127.0.0.3', (_req, res) => res.end('west'));
  const px = await startTestProxy({ clusters: [cluster('east', hole.url), cluster('west', west.url)], timeouts: { connect: 300 } });
  t.after(async () => { await px.close(); await west.kill(); await hole.close(); });

  px.healthy.set('west', false);
  const r = await fetchText(`${px.url}/`);
  assert.equal(r.status, 504);
  assert.equal(r.code, 'SWY_PROXY_CONNECT_TIMEOUT');
  assert.ok(r.ms >= 250 && r.ms < 3000, `answered after ${r.ms} ms`);
  assert.ok(px.failures.some((f) => f.cluster === 'east' && /UND_ERR_CONNECT_TIMEOUT/.test(f.reason)), JSON.stringify(px.failures));
  assert.equal(await px.metric('switchyard_proxy_upstream_errors_total', { cluster: 'east', code: 'SWY_PROXY_CONNECT_TIMEOUT' }), 1);

  px.healthy.set('west', true);
  px.routing.begin('west');
  const post = await fetch(`${px.url}/form`, { method: 'POST', body: 'a=1', headers: { host: 'app.example.com' }, signal: AbortSignal.timeout(10_000) });
  assert.equal(post.status, 200, 'a POST that never reached the upstream is retried');
  assert.equal(await post.text(), 'west');
  assert.equal(await px.metric('switchyard_proxy_retries_total', { from: 'east', to: 'west' }), 1);
});

test('headers timeout: the origin accepts and never answers → 504 SWY_PROXY_HEADERS_TIMEOUT, not retried', async (t) => {
  const pending: IncomingMessage[] = [];
  const east = await startOrigin('127.0.0.2', (req) => { pending.push(req); });
  let westHits = 0;
  const west = await startOrigin('127.0.0.3', (_req, res) => { westHits++; res.end('west'); });
  const px = await startTestProxy({ clusters: [cluster('east', east.url), cluster('west', west.url)], timeouts: { headers: 300 } });
  t.after(async () => { await px.close(); await east.kill(); await west.kill(); });

  const r = await fetchText(`${px.url}/`);
  assert.equal(r.status, 504);
  assert.equal(r.code, 'SWY_PROXY_HEADERS_TIMEOUT');
  assert.equal(JSON.parse(r.body).code, 'SWY_PROXY_HEADERS_TIMEOUT');
  assert.ok(r.ms >= 250 && r.ms < 3000, `answered after ${r.ms} ms`);
  assert.equal(pending.length, 1, 'the origin got the request');
  assert.equal(westHits, 0, 'a request the upstream may be working on is not sent elsewhere');
  assert.equal(px.failures.length, 0, 'a slow answer is not a connect failure');
});

test('idle timeout: a response body that stalls is aborted and counted as SWY_PROXY_IDLE_TIMEOUT', async (t) => {
  const east = await startOrigin('127.0.0.2', (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
  });
  const px = await startTestProxy({ clusters: [cluster('east', east.url)], timeouts: { idle: 300 } });
  t.after(async () => { await px.close(); await east.kill(); });

  const t0 = Date.now();
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: px.port, path: '/', headers: { host: 'app.example.com' } }, resolve);
    req.on('error', reject);
    req.end();
  });
  assert.equal(res.statusCode, 200);
  let body = '';
  res.on('data', (c) => { body += c; });
  const outcome = await Promise.race([
    once(res, 'end').then(() => 'end'),
    once(res, 'aborted').then(() => 'aborted'),
    once(res, 'error').then(() => 'aborted'),
    new Promise((r) => setTimeout(() => r('hung'), 5000)),
  ]);
  assert.equal(outcome, 'aborted', 'the client sees the response cut, not a complete one');
  assert.equal(body, 'partial');
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(await px.metric('switchyard_proxy_upstream_errors_total', { cluster: 'east', code: 'SWY_PROXY_IDLE_TIMEOUT' }), 1);
});

test('client headers timeout: a slow client (Slowloris) gets 408 SWY_PROXY_CLIENT_TIMEOUT and is disconnected', async (t) => {
  let hits = 0;
  const east = await startOrigin('127.0.0.2', (_req, res) => { hits++; res.end('x'); });
  const px = await startTestProxy({ clusters: [cluster('east', east.url)], timeouts: { clientHeaders: 500 } });
  t.after(async () => { await px.close(); await east.kill(); });

  const stalled = await rawExchange(px.port, 'GET / HTTP/1.1\r\nHost: app.example.com\r\n', 5000);
  const reply = parseHead(stalled.text);
  assert.equal(reply.status, 408);
  assert.deepEqual(reply.headers.get('x-switchyard-error'), ['SWY_PROXY_CLIENT_TIMEOUT']);
  assert.equal(stalled.closed, true);
  assert.ok(stalled.ms >= 450 && stalled.ms < 2500, `closed after ${stalled.ms} ms`);

  // Trickling one header byte at a time does not extend the deadline.
  const socket = connect(px.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Slow: ');
  const trickle = setInterval(() => { if (socket.writable) socket.write('a'); }, 50);
  const slow = await collect(socket, 5000);
  clearInterval(trickle);
  assert.equal(parseHead(slow.text).status, 408);
  assert.ok(slow.ms < 2500, `closed after ${slow.ms} ms`);
  assert.equal(hits, 0);
});
