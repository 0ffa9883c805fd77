// Retries and failover: refused and reset upstreams, the active origin killed under load with
// and without a routing switch, and idle connections to the old side closed after a switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Agent, request } from 'undici';
import { cluster, startOrigin, startTestProxy, type Origin } from '../../support/proxy-fixtures.ts';

const HOST = { host: 'app.example.com' };

function named(name: string) {
  return (_req: unknown, res: { setHeader(k: string, v: string): void; end(b: string): void }) => {
    res.setHeader('x-origin', name);
    res.end(`hello from ${name}`);
  };
}

/** A port on 127.0.0.2 with nothing listening: connections are refused. */
async function refusedUrl(): Promise<string> {
  const o = await startOrigin('127.0.0.2', () => {});
  await o.kill();
  return o.url;
}

test('connection refused: retried only to the target of a transition in progress, GET and POST alike', async (t) => {
  let westHits = 0;
  const west = await startOrigin('127.0.0.3', (req, res) => { westHits++; req.resume(); named('west')(req, res); });
  const px = await startTestProxy({ clusters: [cluster('east', await refusedUrl()), cluster('west', west.url)] });
  t.after(async () => { await px.close(); await west.kill(); });

  const atRest = await fetch(`${px.url}/`, { headers: HOST, signal: AbortSignal.timeout(5000) });
  assert.equal(atRest.status, 502, 'no transition in progress: nothing is sent to the passive side');
  assert.equal(atRest.headers.get('x-switchyard-error'), 'SWY_PROXY_UPSTREAM_UNREACHABLE');
  assert.equal(westHits, 0);

  px.routing.begin('west');
  const get = await fetch(`${px.url}/`, { headers: HOST, signal: AbortSignal.timeout(5000) });
  assert.equal(get.status, 200);
  assert.equal(await get.text(), 'hello from west');
  const post = await fetch(`${px.url}/order`, { method: 'POST', body: 'x'.repeat(10_000), headers: HOST, signal: AbortSignal.timeout(5000) });
  assert.equal(post.status, 200, 'the request provably never reached east');
  assert.equal(await px.metric('switchyard_proxy_retries_total', { from: 'east', to: 'west' }), 2);
  assert.equal(await px.metric('switchyard_proxy_upstream_errors_total', { cluster: 'east', code: 'SWY_PROXY_UPSTREAM_UNREACHABLE' }), 3);
  assert.ok(px.failures.length >= 1 && px.failures.every((f) => f.cluster === 'east' && /ECONNREFUSED/.test(f.reason)), JSON.stringify(px.failures));

  px.healthy.set('west', false);
  const noRetry = await fetch(`${px.url}/`, { headers: HOST, signal: AbortSignal.timeout(5000) });
  assert.equal(noRetry.status, 502, 'a target health reports down is not retried on');
  assert.equal(noRetry.headers.get('x-switchyard-error'), 'SWY_PROXY_UPSTREAM_UNREACHABLE');
});

test('after a completed move the old side gets nothing: the new active refuses, the old one is healthy, POSTs get 502', async (t) => {
  let eastHits = 0;
  const east = await startOrigin('127.0.0.2', (req, res) => { eastHits++; req.resume(); named('east')(req, res); });
  const px = await startTestProxy({ clusters: [cluster('east', east.url), cluster('west', await refusedUrl())] });
  t.after(async () => { await px.close(); await east.kill(); });

  px.routing.set('west', 'failed-over');
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${px.url}/order`, { method: 'POST', body: `n=${i}`, headers: HOST, signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 502);
    await res.text();
  }
  px.routing.set('east', 'failing-back');
  px.routing.set('west', 'failed-over');
  const held = await fetch(`${px.url}/`, { headers: HOST, signal: AbortSignal.timeout(5000) });
  assert.equal(held.status, 502);
  assert.equal(eastHits, 0, 'nothing went back to the source of the move');
  assert.equal(await px.metric('switchyard_proxy_retries_total', { from: 'west', to: 'east' }), 0);
});

test('reset before any response byte: not retried whatever the method (the upstream may have acted on it)', async (t) => {
  const eastSeen: string[] = [];
  const east = await startOrigin('127.0.0.2', (req) => {
    eastSeen.push(req.method ?? '');
    req.resume();
    req.on('end', () => req.socket.resetAndDestroy());
  });
  const westSeen: string[] = [];
  const west = await startOrigin('127.0.0.3', (req, res) => { westSeen.push(req.method ?? ''); req.resume(); req.on('end', () => res.end('west')); });
  const px = await startTestProxy({ clusters: [cluster('east', east.url), cluster('west', west.url)] });
  t.after(async () => { await px.close(); await east.kill(); await west.kill(); });

  px.routing.begin('west');
  for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'PATCH']) {
    const res = await fetch(`${px.url}/r`, { method, ...(method === 'GET' || method === 'HEAD' ? {} : { body: 'data' }), headers: HOST, signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 502, method);
    assert.equal(res.headers.get('x-switchyard-error'), 'SWY_PROXY_UPSTREAM_RESET');
  }
  assert.deepEqual(eastSeen, ['GET', 'HEAD', 'PUT', 'POST', 'PATCH']);
  assert.deepEqual(westSeen, [], 'a request east received is never sent again');
  assert.equal(px.failures.length, 0, 'a reset is not a connect failure');
});

interface LoadResult { sent: number; ok: number; failed: number; errors: string[]; byOrigin: Map<string, number>; longestMs: number }

/** A bounded stream of GETs: `total` requests, `concurrency` at a time, `maxMs` at most. */
async function load(url: string, total: number, concurrency: number, maxMs: number, onProgress: (done: number) => void): Promise<LoadResult> {
  const agent = new Agent({ connections: concurrency, allowH2: false });
  const r: LoadResult = { sent: 0, ok: 0, failed: 0, errors: [], byOrigin: new Map(), longestMs: 0 };
  const deadline = Date.now() + maxMs;
  const worker = async () => {
    while (r.sent < total && Date.now() < deadline) {
      r.sent++;
      const t0 = performance.now();
      try {
        const res = await request(url, { headers: HOST, dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
        const body = await res.body.text();
        if (res.statusCode === 200) {
          r.ok++;
          const o = String(res.headers['x-origin']);
          r.byOrigin.set(o, (r.byOrigin.get(o) ?? 0) + 1);
        } else {
          r.failed++;
          r.errors.push(`${res.statusCode} ${body}`);
        }
      } catch (err) {
        r.failed++;
        r.errors.push(String(err));
      }
      r.longestMs = Math.max(r.longestMs, performance.now() - t0);
      onProgress(r.ok + r.failed);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await agent.close();
  return r;
}

test('failover under load: the transition has begun, the active origin is killed, routing moves to west; only requests east had received fail', async (t) => {
  const east = await startOrigin('127.0.0.2', named('east'));
  const west = await startOrigin('127.0.0.3', named('west'));
  const px = await startTestProxy({ clusters: [cluster('east', east.url), cluster('west', west.url)] });
  t.after(async () => { await px.close(); await east.kill(); await west.kill(); });

  let killed = false;
  let switched = false;
  const result = await load(`${px.url}/item`, 2000, 8, 10_000, (done) => {
    if (done >= 500 && !killed) {
      killed = true;
      // The controller has begun the move (earlier steps run before switch-traffic); east dies
      // meanwhile, and routing switches 100 ms later.
      px.routing.begin('west');
      void east.kill().then(() => setTimeout(() => {
        px.routing.set('west', 'failing-over');
        px.routing.set('west', 'failed-over');
        switched = true;
      }, 100));
    }
  });
  assert.equal(switched, true);
  assert.equal(result.sent, 2000);
  // Requests east had already received when it died are reset and not sent again (east may have
  // acted on them); at most one per connection. Every request that never reached east is served.
  assert.ok(result.failed <= 8, `${result.failed} failed: ${result.errors.slice(0, 3).join('; ')}`);
  assert.deepEqual(result.errors.filter((e) => !e.includes('SWY_PROXY_UPSTREAM_RESET')), []);
  assert.ok((result.byOrigin.get('east') ?? 0) >= 500, 'east served before it died');
  assert.ok((result.byOrigin.get('west') ?? 0) > 0, 'west served after');
  assert.ok(await px.metric('switchyard_proxy_retries_total', { from: 'east', to: 'west' }) >= 1, 'requests in the gap were retried on west');
});

test('the active dies: at rest every request gets 502 and west gets none; once a transition begins, every request is served through the retry', async (t) => {
  let westHits = 0;
  const east: Origin = await startOrigin('127.0.0.2', named('east'));
  const west = await startOrigin('127.0.0.3', (req, res) => { westHits++; named('west')(req, res); });
  const px = await startTestProxy({ clusters: [cluster('east', east.url), cluster('west', west.url)] });
  t.after(async () => { await px.close(); await west.kill(); });

  await east.kill();
  const atRest = await load(`${px.url}/item`, 50, 4, 10_000, () => {});
  assert.equal(atRest.failed, 50);
  assert.equal(westHits, 0);
  px.routing.begin('west');
  const result = await load(`${px.url}/item`, 300, 8, 10_000, () => {});
  assert.equal(result.failed, 0, result.errors.slice(0, 3).join('\n'));
  assert.equal(result.byOrigin.get('west'), 300);
  assert.equal(await px.metric('switchyard_proxy_retries_total', { from: 'east', to: 'west' }), 300);
  assert.ok(px.failures.length >= 1 && px.failures.every((f) => f.cluster === 'east'));
});

test('after the active changes, idle keep-alive connections to the old side are closed', async (t) => {
  const east = await startOrigin('127.0.0.2', named('east'));
  const west = await startOrigin('127.0.0.3', named('west'));
  const px = await startTestProxy({ clusters: [cluster('east', east.url), cluster('west', west.url)] });
  t.after(async () => { await px.close(); await east.kill(); await west.kill(); });

  await Promise.all(Array.from({ length: 4 }, () => fetch(`${px.url}/`, { headers: HOST }).then((r) => r.text())));
  const connections = () => new Promise<number>((res, rej) => east.server.getConnections((err, n) => (err ? rej(err) : res(n))));
  assert.ok(await connections() >= 1, 'the pool keeps connections to east open');
  px.routing.set('west', 'failing-over');
  const deadline = Date.now() + 3000;
  while (await connections() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await connections(), 0, 'idle connections to east closed once traffic moved');
  const res = await fetch(`${px.url}/`, { headers: HOST });
  assert.equal(await res.text(), 'hello from west');
});

test('a client that goes away mid-download releases the upstream request', async (t) => {
  let closedUpstream!: () => void;
  const upstreamClosed = new Promise<void>((r) => { closedUpstream = r; });
  const east = await startOrigin('127.0.0.2', (_req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write('tick\n'), 20);
    res.on('close', () => { clearInterval(timer); closedUpstream(); });
  });
  const px = await startTestProxy({ clusters: [cluster('east', east.url)] });
  t.after(async () => { await px.close(); await east.kill(); });

  await new Promise<void>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: px.port, path: '/stream', headers: HOST }, (res) => {
      res.once('data', () => { req.destroy(); resolve(); });
    });
    req.on('error', () => {});
    req.on('timeout', () => reject(new Error('no data')));
    req.setTimeout(5000);
    req.end();
  });
  await Promise.race([upstreamClosed, new Promise((_, rej) => setTimeout(() => rej(new Error('the upstream request was left running')), 3000))]);
  assert.equal(await px.metric('switchyard_proxy_upstream_errors_total', { cluster: 'east', code: 'SWY_PROXY_UPSTREAM_RESET' }), 0, 'a client abort is not an upstream error');
});
