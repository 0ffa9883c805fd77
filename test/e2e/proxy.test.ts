// `switchyard serve` with `proxy:` in its YAML, as a user runs it: requests flow to the active
// cluster through the real process; when the active cluster dies under a steady stream of GETs
// the process fails over (probes plus the proxy's passive signal) and no request fails once the
// move is made; and after the move nothing is ever sent back to the old side, even when the new
// active's app refuses connections and the old side is healthy again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { startHealthEndpoint } from '../support/health-endpoint.ts';
import { startOrigin, type Origin } from '../support/proxy-fixtures.ts';
import { startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';
import { freePort } from '../support/ports.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function app(host: string, name: string, port: number): Promise<Origin & { xff: string[] }> {
  const xff: string[] = [];
  const o = await startOrigin(host, (req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    xff.push(String(req.headers['x-forwarded-for']));
    res.setHeader('x-origin', name);
    res.end(`hello from ${name}`);
  }, port);
  cleanups.push(() => o.kill());
  return Object.assign(o, { xff });
}

const yaml = (port: number) => `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], upstream: "http://127.0.0.2:${port}", probes: [{ http: { url: "http://127.0.0.2:${port}/healthz" } }] }
  - { name: west, addresses: [127.0.0.3], upstream: "http://127.0.0.3:${port}", probes: [{ http: { url: "http://127.0.0.3:${port}/healthz" } }] }
health: { interval: 500ms, timeout: 300ms, fall: 2, rise: 1 }
failover: { automatic: true, cooldown: 0s }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
proxy: { listen: "127.0.0.1:\${PROXY_PORT}", timeouts: { connect: 500ms } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
log: { level: warn }
`;

async function status(sy: SwitchyardProcess): Promise<{ active: string; state: string }> {
  return await (await fetch(`${sy.adminUrl}/v1/status`, { signal: AbortSignal.timeout(2000) })).json() as { active: string; state: string };
}

test('serve with proxy: requests reach the active cluster; killing it under load fails over, no failed request once moved', { timeout: 60_000 }, async () => {
  const port = await freePort('127.0.0.2');
  const east = await app('127.0.0.2', 'east', port);
  const west = await app('127.0.0.3', 'west', port);
  const sy = await startSwitchyard({ config: yaml(port) });
  cleanups.push(() => sy.stop());
  const base = `http://127.0.0.1:${sy.proxyPort}`;

  const first = await fetch(`${base}/hello`, { headers: { host: 'app.example.com' }, signal: AbortSignal.timeout(5000) });
  assert.equal(first.status, 200, sy.logs());
  assert.equal(await first.text(), 'hello from east');
  assert.deepEqual(east.xff, ['127.0.0.1']);
  const metrics = await (await fetch(`${sy.adminUrl}/metrics`)).text();
  assert.match(metrics, /switchyard_proxy_requests_total\{cluster="east",status_class="2xx"\} 1/);

  // A steady stream of GETs (4 at a time, bounded to 20 s) while east dies.
  const agent = new Agent({ connections: 4, allowH2: false });
  cleanups.push(() => agent.close());
  let ok = 0;
  const failures: string[] = [];
  const failuresAfterMove: string[] = [];
  let movedAt = Infinity;
  const served = new Map<string, number>();
  let stop = false;
  const deadline = Date.now() + 20_000;
  const worker = async () => {
    while (!stop && Date.now() < deadline) {
      try {
        const res = await request(`${base}/item`, { headers: { host: 'app.example.com' }, dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
        const body = await res.body.text();
        if (res.statusCode !== 200) (Date.now() > movedAt ? failuresAfterMove : failures).push(`${res.statusCode} ${body}`);
        else {
          ok++;
          served.set(body, (served.get(body) ?? 0) + 1);
        }
      } catch (err) {
        (Date.now() > movedAt ? failuresAfterMove : failures).push(String(err));
      }
      await sleep(2);
    }
  };
  const workers = Promise.all(Array.from({ length: 4 }, worker));
  while (ok < 200 && Date.now() < deadline) await sleep(20);
  await east.kill();
  let moved = false;
  while (!moved && Date.now() < deadline) {
    const s = await status(sy).catch(() => ({ active: '?', state: '?' }));
    moved = s.active === 'west' && s.state === 'failed-over';
    if (!moved) await sleep(100);
  }
  movedAt = Date.now();
  const westBefore = served.get('hello from west') ?? 0;
  while ((served.get('hello from west') ?? 0) < westBefore + 200 && Date.now() < deadline) await sleep(20);
  stop = true;
  await workers;

  assert.equal(moved, true, `switchyard did not fail over to west:\n${sy.logs()}`);
  // Before the controller begins the move, requests to the dying east fail (502, or a reset for
  // those east had received): none is sent to the passive side at rest. Once moved, none fails.
  assert.deepEqual(failures.filter((f) => !/SWY_PROXY_UPSTREAM_(UNREACHABLE|RESET)|SWY_PROXY_CONNECT_TIMEOUT/.test(f)).slice(0, 5), []);
  assert.deepEqual(failuresAfterMove.slice(0, 5), [], 'no request failed after traffic moved');
  assert.ok((served.get('hello from east') ?? 0) >= 200);
  assert.ok((served.get('hello from west') ?? 0) >= 200);
  const after = await (await fetch(`${sy.adminUrl}/metrics`)).text();
  assert.doesNotMatch(after, /switchyard_proxy_retries_total\{from="west",to="east"\} [1-9]/, 'never retried backwards');
  assert.ok(west.xff.length >= 200);
});

test('after a completed move nothing goes back: the new active refuses connections, the old side is healthy again, POSTs never reach it', { timeout: 90_000 }, async () => {
  const port = await freePort('127.0.0.2');
  const eastHealth = await startHealthEndpoint('127.0.0.2');
  const westHealth = await startHealthEndpoint('127.0.0.3');
  cleanups.push(() => eastHealth.kill(), () => westHealth.kill());
  const seen = { east: 0, west: 0 };
  const origin = async (host: string, name: 'east' | 'west') => {
    const o = await startOrigin(host, (req, res) => { seen[name]++; req.resume(); req.on('end', () => res.end(`${req.method} served by ${name}`)); }, port);
    cleanups.push(() => o.kill());
    return o;
  };
  let east = await origin('127.0.0.2', 'east');
  const west = await origin('127.0.0.3', 'west');
  const config = `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], upstream: "http://127.0.0.2:${port}", probes: [{ http: { url: "${eastHealth.url}" } }] }
  - { name: west, addresses: [127.0.0.3], upstream: "http://127.0.0.3:${port}", probes: [{ http: { url: "${westHealth.url}" } }] }
health: { interval: 500ms, timeout: 300ms, fall: 2, rise: 1 }
failover: { automatic: true, cooldown: 0s }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
proxy: { listen: "127.0.0.1:\${PROXY_PORT}", timeouts: { connect: 500ms } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
log: { level: warn }
`;
  const sy = await startSwitchyard({ config });
  cleanups.push(() => sy.stop());
  const base = `http://127.0.0.1:${sy.proxyPort}`;
  const post = async (i: number) => {
    const res = await request(`${base}/orders`, { method: 'POST', body: `order=${i}`, headers: { host: 'app.example.com' }, headersTimeout: 5000, bodyTimeout: 5000 });
    return { status: res.statusCode, code: res.headers['x-switchyard-error'], body: await res.body.text() };
  };
  assert.equal((await post(0)).body, 'POST served by east');

  // east fails; switchyard fails over to west.
  eastHealth.mode = 'fail';
  await east.kill();
  const deadline = Date.now() + 30_000;
  let s = await status(sy);
  while (!(s.active === 'west' && s.state === 'failed-over') && Date.now() < deadline) { await sleep(100); s = await status(sy); }
  assert.equal(s.active, 'west', sy.logs());
  assert.equal((await post(1)).body, 'POST served by west');

  // The old side comes back healthy; the new active's app stops accepting connections.
  east = await origin('127.0.0.2', 'east');
  eastHealth.mode = 'ok';
  await west.kill();
  await sleep(1500);
  const eastBefore = seen.east;
  const results = [];
  for (let i = 0; i < 20; i++) results.push(await post(100 + i));
  assert.equal(seen.east - eastBefore, 0, `POSTs reached the old side: ${JSON.stringify(results.slice(0, 3))}`);
  assert.deepEqual(new Set(results.map((r) => `${r.status} ${r.code}`)), new Set(['502 SWY_PROXY_UPSTREAM_UNREACHABLE']));
  const s2 = await status(sy);
  assert.equal(s2.active, 'west', 'no automatic failback either');
  const metrics = await (await fetch(`${sy.adminUrl}/metrics`)).text();
  assert.doesNotMatch(metrics, /switchyard_proxy_retries_total\{from="west",to="east"\} [1-9]/);
});
