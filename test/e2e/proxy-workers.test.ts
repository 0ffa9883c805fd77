// `switchyard serve` with proxy.workers: 2 and dns.workers: 2, in front of two real HTTP origins.
// A failover through the admin API returns once the transition completed, which includes
// switch-traffic being journaled done only after every DNS and proxy worker acknowledged the new
// generation: so from that moment on no request, on a fresh connection or on a keep-alive one
// opened before the move (whichever worker holds it), may reach the old origin.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { startOrigin } from '../support/proxy-fixtures.ts';
import { startSwitchyard } from '../support/switchyard-process.ts';

const TOKEN = 'e2e-proxy-workers-token';
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

test('serve with proxy.workers: 2: after each move returns, no request reaches the old origin', { timeout: 180_000 }, async () => {
  const received: Record<string, { total: number; late: number }> = { east: { total: 0, late: 0 }, west: { total: 0, late: 0 } };
  const origin = async (name: string) => {
    const o = await startOrigin('127.0.0.1', (req, res) => {
      if (req.url === '/healthz') return void res.end('ok');
      received[name].total++;
      if (req.headers['x-after-move'] !== undefined) received[name].late++;
      res.end(name);
    });
    cleanups.push(() => o.kill());
    return o;
  };
  const east = await origin('east');
  const west = await origin('west');
  const sy = await startSwitchyard({
    env: { SWITCHYARD_ADMIN_TOKEN: TOKEN },
    config: `
zone: { name: example.com, ttl: 30, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], upstream: "${east.url}", probes: [{ http: { url: "${east.url}/healthz" } }] }
  - { name: west, addresses: [127.0.0.3], upstream: "${west.url}", probes: [{ http: { url: "${west.url}/healthz" } }] }
health: { interval: 1s, timeout: 500ms, fall: 3, rise: 2 }
failover: { automatic: false, cooldown: 0s, steps: [switch-traffic] }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"], workers: 2, rateLimit: { responsesPerSecond: 0 } }
proxy: { listen: "127.0.0.1:\${PROXY_PORT}", workers: 2 }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
state: { file: ./state.json }
`,
  });
  cleanups.push(() => sy.stop());
  const base = `http://127.0.0.1:${sy.proxyPort}`;
  // Keep-alive connections opened at the start, spread over both workers by their source ports.
  const kept = Array.from({ length: 8 }, () => new Agent({ connections: 1 }));
  cleanups.push(() => Promise.all(kept.map((a) => a.close())));
  const get = async (agent: Agent, late: boolean) => {
    const res = await request(`${base}/x`, { dispatcher: agent, headers: { host: 'app.example.com', ...(late ? { 'x-after-move': '1' } : {}) } });
    return res.body.text();
  };
  assert.deepEqual([...new Set(await Promise.all(kept.map((a) => get(a, false))))], ['east'], sy.logs());

  for (const [path, to] of [['/v1/failover', 'west'], ['/v1/failback', 'east'], ['/v1/failover', 'west']] as const) {
    const from = to === 'west' ? 'east' : 'west';
    const lateBefore = received[from].late;
    const res = await fetch(`${sy.adminUrl}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...(path === '/v1/failover' ? { to } : {}), reason: 'e2e: every proxy worker follows', force: true }),
    });
    assert.ok(res.ok, `${path} accepted: ${res.status} ${await res.text()}`);
    const fresh = await Promise.all(Array.from({ length: 32 }, async () => {
      const agent = new Agent({ connections: 1 });
      try { return await get(agent, true); } finally { await agent.close(); }
    }));
    const onKept = await Promise.all(kept.map((a) => get(a, true)));
    assert.deepEqual([...new Set([...fresh, ...onKept])], [to], `after ${path} returned every request went to ${to}\n${sy.logs().slice(-2000)}`);
    assert.equal(received[from].late, lateBefore, `${from} received nothing sent after ${path} returned`);
  }
  const metrics = await (await fetch(`${sy.adminUrl}/metrics`)).text();
  const forwarded = [...metrics.matchAll(/^switchyard_proxy_requests_total\{cluster="(east|west)",status_class="2xx"\} (\d+)/gm)].reduce((a, m) => a + Number(m[2]), 0);
  assert.equal(forwarded, received.east.total + received.west.total, 'the metrics count every worker\'s requests');
  assert.match(sy.logs(), /proxy served by 2 worker threads/);
  assert.equal(await sy.stop(), 0, `a clean shutdown closes every worker\n${sy.logs().slice(-2000)}`);
});
