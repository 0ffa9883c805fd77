// proxy.workers > 1: real worker threads with their own reusePort listeners on one loopback port,
// in front of two real HTTP origins. Every routing change reaches every worker, awaitGeneration
// resolves only once all of them forward by it, and after that no worker forwards a request to
// the old origin: the client marks every request it sends after the acknowledgement, and the
// old origin must never receive a marked one, on fresh connections or on keep-alive connections
// opened before the move (each worker is kept busy with a stream of requests when the change
// comes, so a broadcast not yet applied would show). Also: the health verdicts and the passive
// failure signal cross the thread boundary, and the metrics add up the workers' counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { createProxyWorkers } from '../../../src/proxy/index.ts';
import { isSwitchyardError } from '../../../src/errors.ts';
import { cluster, fakeRouting, startOrigin, testProxyConfig } from '../../support/proxy-fixtures.ts';
import { freePort } from '../../support/ports.ts';

const silent = pino({ level: 'silent' });
const AFTER = 'x-sent-after-ack';

async function origins() {
  const seen: Record<string, { total: number; marked: number }> = { east: { total: 0, marked: 0 }, west: { total: 0, marked: 0 } };
  const start = (name: string) => startOrigin('127.0.0.1', (req, res) => {
    seen[name].total++;
    if (req.headers[AFTER] !== undefined) seen[name].marked++;
    req.resume();
    req.on('end', () => res.end(name));
  });
  const [east, west] = await Promise.all([start('east'), start('west')]);
  return { east, west, seen };
}

/** Keeps `connections` keep-alive connections busy with back-to-back GETs until stopped; marks requests sent after `marked()` is true. */
function stream(url: string, connections: number, marked: () => boolean) {
  let running = true;
  const errors: string[] = [];
  const until = Date.now() + 30_000;
  const loops = Array.from({ length: connections }, async (_, i) => {
    // An agent per loop: one keep-alive connection each, opened before the move.
    const own = new Agent({ connections: 1 });
    for (let n = 0; running && n < 100_000 && Date.now() < until && errors.length < 100; n++) {
      const after = marked();
      try {
        const res = await request(`${url}/stream/${i}`, { dispatcher: own, headers: after ? { [AFTER]: '1' } : {} });
        await res.body.text();
      } catch (err) { errors.push(String(err)); }
    }
    await own.close();
  });
  let stopped: Promise<unknown> | undefined;
  return { errors, stop() { running = false; stopped ??= Promise.all(loops); return stopped; } };
}

test('two proxy workers on one port: a move is acknowledged by both, and after it no worker forwards to the old origin', { timeout: 120_000 }, async (t) => {
  const { east, west, seen } = await origins();
  t.after(async () => { await east.kill(); await west.kill(); });
  const routing = fakeRouting('east');
  const registry = new Registry();
  const port = await freePort();
  const proxy = createProxyWorkers({
    proxy: { ...testProxyConfig({ upstreamConnections: 64 }), listen: { host: '127.0.0.1', port, family: 4 }, workers: 2 },
    clusters: [cluster('east', east.url), cluster('west', west.url)],
  }, { routing, logger: silent, registry, workers: 2 });
  await proxy.start();
  t.after(() => proxy.close());
  assert.equal(proxy.address().port, port, 'the workers listen on the configured port');
  const url = `http://127.0.0.1:${port}`;

  let acknowledged = false;
  for (const next of ['west', 'east', 'west', 'east']) {
    const old = next === 'west' ? 'east' : 'west';
    acknowledged = false;
    // Keep-alive connections opened before the move, each on whichever worker the kernel picked.
    const load = stream(url, 16, () => acknowledged);
    t.after(() => load.stop());
    await new Promise((r) => setTimeout(r, 300));
    const markedBefore = seen[old].marked;
    routing.set(next);
    const generation = routing.current().generation;
    await proxy.awaitGeneration(generation);
    acknowledged = true;
    assert.ok(proxy.workers().every((w) => w.serving >= generation), `every worker forwards by ${generation}: ${JSON.stringify(proxy.workers())}`);
    // Fresh connections (fresh source ports) land on both workers, beside the streams' old ones.
    const fresh = await Promise.all(Array.from({ length: 64 }, async () => {
      const agent = new Agent({ connections: 1 });
      try {
        const res = await request(`${url}/fresh`, { dispatcher: agent, headers: { [AFTER]: '1', connection: 'close' } });
        return await res.body.text();
      } finally { await agent.close(); }
    }));
    await new Promise((r) => setTimeout(r, 300));
    await load.stop();
    assert.deepEqual(load.errors, [], 'no request failed');
    assert.deepEqual([...new Set(fresh)], [next], `after the acknowledgement of generation ${generation} every fresh request went to ${next}`);
    assert.equal(seen[old].marked, markedBefore, `${old} received no request sent after the acknowledgement (moving to ${next})`);
    assert.ok(seen[next].marked >= 64, `${next} received the requests sent after the acknowledgement: ${seen[next].marked}`);
  }
  const perWorker = proxy.workers().map((w) => w.requests);
  assert.ok(perWorker.every((n) => n > 0), `both workers forwarded: ${perWorker.join(', ')}`);
  const requests = (await registry.getSingleMetric('switchyard_proxy_requests_total')!.get()).values.reduce((a, v) => a + v.value, 0);
  assert.equal(requests, perWorker.reduce((a, b) => a + b, 0), 'the metrics add up the workers\' counters');
  assert.equal(requests, seen.east.total + seen.west.total, 'every request the origins answered is counted once');
  const durations = (await registry.getSingleMetric('switchyard_proxy_upstream_duration_seconds')!.get()).values;
  const count = durations.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count')).reduce((a, v) => a + v.value, 0);
  assert.equal(count, requests, 'the upstream duration histogram has one observation per forwarded request');
});

test('health verdicts reach the workers (no retry on an unhealthy target) and their upstream failures reach the main thread', { timeout: 60_000 }, async (t) => {
  const { east, west } = await origins();
  t.after(async () => { await west.kill(); });
  await east.kill();   // east refuses connections from now on
  const healthy = new Map([['east', true], ['west', false]]);
  const listeners = new Set<() => void>();
  const failures: string[] = [];
  const routing = fakeRouting('east');
  const proxy = createProxyWorkers({
    proxy: { ...testProxyConfig({}), workers: 2 },
    clusters: [cluster('east', east.url), cluster('west', west.url)],
  }, {
    routing, logger: silent, registry: new Registry(), workers: 2,
    isHealthy: (c) => healthy.get(c) ?? true,
    healthChanges: (fn) => { listeners.add(fn); return () => listeners.delete(fn); },
    onUpstreamFailure: (c) => { failures.push(c); },
  });
  await proxy.start();
  t.after(() => proxy.close());
  const url = `http://127.0.0.1:${proxy.address().port}`;
  routing.begin('west');   // a transition to west in progress: a refused request may be retried there, if west is healthy
  await proxy.awaitGeneration(routing.current().generation);

  const statuses = async () => Promise.all(Array.from({ length: 16 }, async () => {
    const agent = new Agent({ connections: 1 });
    try { const res = await request(url, { dispatcher: agent, headers: { connection: 'close' } }); await res.body.text(); return res.statusCode; } finally { await agent.close(); }
  }));
  assert.deepEqual([...new Set(await statuses())], [502], 'west is unhealthy: nothing is retried there');
  healthy.set('west', true);
  for (const fn of listeners) fn();
  assert.deepEqual([...new Set(await statuses())], [200], 'west is healthy now, in every worker: refused requests are retried there');
  const deadline = Date.now() + 10_000;
  while (failures.length < 32 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(failures.length >= 32 && failures.every((c) => c === 'east'), `every refused connection to east was reported: ${failures.length}`);
});

test('a port another process holds without reusePort fails the start with SWY_LISTEN_FAILED and leaves no worker running', { timeout: 30_000 }, async () => {
  const holder = createNetServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
  const port = (holder.address() as { port: number }).port;
  const proxy = createProxyWorkers({
    proxy: { ...testProxyConfig({}), listen: { host: '127.0.0.1', port, family: 4 }, workers: 2 },
    clusters: [cluster('east', 'http://127.0.0.1:9'), cluster('west', 'http://127.0.0.1:9')],
  }, { routing: fakeRouting('east'), logger: silent, registry: new Registry(), workers: 2 });
  await assert.rejects(proxy.start(), (err) => isSwitchyardError(err, 'SWY_LISTEN_FAILED'));
  assert.deepEqual(proxy.workers().map((w) => w.serving), [0, 0]);
  await new Promise<void>((resolve) => holder.close(() => resolve()));
});
