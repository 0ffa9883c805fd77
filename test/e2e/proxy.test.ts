// `switchyard serve` with `proxy:` in its YAML, as a user runs it: requests flow to the active
// cluster through the real process, and when the active cluster dies under a steady stream of
// GETs the process fails over (probes plus the proxy's passive signal) with no failed request.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
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

test('serve with proxy: requests reach the active cluster; killing it under load fails over with zero failed requests', { timeout: 60_000 }, async () => {
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
  const served = new Map<string, number>();
  let stop = false;
  const deadline = Date.now() + 20_000;
  const worker = async () => {
    while (!stop && Date.now() < deadline) {
      try {
        const res = await request(`${base}/item`, { headers: { host: 'app.example.com' }, dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
        const body = await res.body.text();
        if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body}`);
        else {
          ok++;
          served.set(body, (served.get(body) ?? 0) + 1);
        }
      } catch (err) {
        failures.push(String(err));
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
  const westBefore = served.get('hello from west') ?? 0;
  while ((served.get('hello from west') ?? 0) < westBefore + 200 && Date.now() < deadline) await sleep(20);
  stop = true;
  await workers;

  assert.equal(moved, true, `switchyard did not fail over to west:\n${sy.logs()}`);
  assert.deepEqual(failures.slice(0, 5), [], 'no request failed while east died and traffic moved');
  assert.ok((served.get('hello from east') ?? 0) >= 200);
  assert.ok((served.get('hello from west') ?? 0) >= 200);
  const after = await (await fetch(`${sy.adminUrl}/metrics`)).text();
  assert.match(after, /switchyard_proxy_retries_total\{from="east",to="west"\} [1-9]/, 'requests in the gap before the switch were retried on west');
  assert.ok(west.xff.length >= 200);
});
