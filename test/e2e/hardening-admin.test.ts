// Issue 9, admin API: a web page in the operator's browser cannot move traffic through the
// admin API of a real `switchyard serve` without a token (cross-site requests, DNS rebinding),
// and reads need the token when admin.openReads is false.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { startHealthEndpoint, type HealthEndpoint } from '../support/health-endpoint.ts';
import { startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

const config = (east: string, west: string, admin = '') => `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ http: { url: "${east}" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ http: { url: "${west}" } }] }
health: { interval: 500ms, timeout: 400ms, fall: 3, rise: 1 }
failover: { cooldown: 0s, automatic: false }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}"${admin} }
log: { level: warn }
`;

interface Answer { status: number; code: string | undefined; body: string; headers: Record<string, string | string[] | undefined> }

/** A raw HTTP request, so Host, Origin and Sec-Fetch-Site are exactly what a browser would send. */
function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: !('host' in headers) }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let code: string | undefined;
        try { code = (JSON.parse(text) as { error?: { code?: string } }).error?.code; } catch { code = undefined; }
        resolve({ status: res.statusCode ?? 0, code, body: text, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}

let east: HealthEndpoint;
let west: HealthEndpoint;
before(async () => {
  east = await startHealthEndpoint('127.0.0.2');
  west = await startHealthEndpoint('127.0.0.3');
});
after(async () => { await east.kill(); await west.kill(); });

async function activeOf(sy: SwitchyardProcess, token?: string): Promise<{ active: string; generation: number }> {
  const r = await send(sy.adminPort, 'GET', '/v1/status', token ? { authorization: `Bearer ${token}` } : {});
  assert.equal(r.status, 200, r.body);
  // Only what a move changes: the probes' results and times change on their own between two reads.
  const { active, generation } = JSON.parse(r.body) as { active: string; generation: number };
  return { active, generation };
}

async function waitHealthy(sy: SwitchyardProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const s = JSON.parse((await send(sy.adminPort, 'GET', '/v1/status', {})).body) as { clusters: Array<{ healthy: boolean | null }> };
    if (s.clusters.every((c) => c.healthy === true)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('clusters never became healthy');
}

describe('admin API without a token (loopback)', () => {
  let sy: SwitchyardProcess;
  before(async () => {
    sy = await startSwitchyard({ config: config(east.url, west.url) });
    await waitHealthy(sy);
  });
  after(() => sy.stop());

  const failback = JSON.stringify({ to: 'west', reason: 'attack' });
  test('cross-site and rebinding requests are refused and move nothing', async () => {
    const origin = `http://127.0.0.1:${sy.adminPort}`;
    const before = await activeOf(sy);
    const attacks: Array<[string, string, Record<string, string>, string | undefined, number, string]> = [
      // fetch(url, { method: 'POST', mode: 'no-cors' }) from evil.example: no body, no content type
      ['no-cors POST, empty body', '/v1/failover', { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' }, undefined, 403, 'SWY_ADMIN_CROSS_SITE'],
      ['no-cors POST, text/plain JSON', '/v1/failover', { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain;charset=UTF-8' }, failback, 403, 'SWY_ADMIN_CROSS_SITE'],
      ['form POST from a sandboxed frame', '/v1/failback', { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' }, 'a=b', 403, 'SWY_ADMIN_CROSS_SITE'],
      ['same-site page on another port', '/v1/failover', { origin: 'http://127.0.0.1:1', 'sec-fetch-site': 'same-site', 'content-type': 'application/json' }, failback, 403, 'SWY_ADMIN_CROSS_SITE'],
      // DNS rebinding: evil.example now resolves to 127.0.0.1, the page is same-origin with itself
      ['rebinding POST with a JSON body', '/v1/failover', { host: `evil.example:${sy.adminPort}`, origin: `http://evil.example:${sy.adminPort}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, failback, 403, 'SWY_ADMIN_HOST_REJECTED'],
      ['rebinding POST without Origin', '/v1/failback', { host: `evil.example:${sy.adminPort}`, 'content-type': 'application/json' }, '{}', 403, 'SWY_ADMIN_HOST_REJECTED'],
      // a client that is no browser but sends no JSON
      ['POST without a content type', '/v1/failover', {}, failback, 415, 'SWY_ADMIN_CONTENT_TYPE'],
    ];
    for (const [name, path, headers, body, status, code] of attacks) {
      const r = await send(sy.adminPort, 'POST', path, headers, body);
      assert.equal(r.status, status, `${name}: ${r.body}`);
      assert.equal(r.code, code, name);
    }
    for (const path of ['/v1/status', '/', '/metrics', '/v1/console', '/v1/events']) {
      const r = await send(sy.adminPort, 'GET', path, { host: `evil.example:${sy.adminPort}` });
      assert.equal(r.status, 403, `rebinding GET ${path}`);
      assert.equal(r.code, 'SWY_ADMIN_HOST_REJECTED');
      assert.doesNotMatch(r.body, /east|west/, 'the refusal reveals no topology');
    }
    assert.equal((await send(sy.adminPort, 'GET', '/healthz', { host: 'evil.example' })).status, 200, 'liveness stays open to any Host');
    // Clickjacking: the console (whose buttons POST same-origin) may not be framed by another site.
    const page = await send(sy.adminPort, 'GET', '/', {});
    assert.equal(page.status, 200);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['content-security-policy'], "frame-ancestors 'none'");
    assert.deepEqual(await activeOf(sy), before, 'nothing moved');

    // The same page's own origin, and a localhost name: accepted, so the refusals above are the guard's.
    const ok = await send(sy.adminPort, 'POST', '/v1/failover', { host: `localhost:${sy.adminPort}`, origin: `http://localhost:${sy.adminPort}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, JSON.stringify({ to: 'west', reason: 'operator' }));
    assert.equal(ok.status, 200, ok.body);
    assert.equal((await activeOf(sy)).active, 'west');
    const back = await send(sy.adminPort, 'POST', '/v1/failback', { origin, 'content-type': 'application/json; charset=utf-8' }, '{}');
    assert.equal(back.status, 200, back.body);
    assert.equal((await activeOf(sy)).active, 'east');
  });
});

describe('admin API with a token and admin.openReads: false', () => {
  const TOKEN = 'tok-3f9c2a';
  let sy: SwitchyardProcess;
  before(async () => {
    sy = await startSwitchyard({ config: config(east.url, west.url, ', openReads: false, allowedHosts: [switchyard-admin.ops.svc]'), env: { SWITCHYARD_ADMIN_TOKEN: TOKEN } });
  });
  after(() => sy.stop());

  test('reads need the token; a configured name and the token lift the Host check', async () => {
    for (const path of ['/v1/status', '/', '/metrics', '/v1/console', '/v1/events']) {
      const r = await send(sy.adminPort, 'GET', path, {});
      assert.equal(r.status, 401, path);
      assert.equal(r.code, 'SWY_ADMIN_UNAUTHORIZED');
      assert.equal((await send(sy.adminPort, 'GET', path, { authorization: `Bearer ${TOKEN}x` })).status, 401, path);
      // /v1/events with the token is a stream that does not end; its refusal above is the point.
      if (path !== '/v1/events') assert.equal((await send(sy.adminPort, 'GET', path, { authorization: `Bearer ${TOKEN}` })).status, 200, path);
    }
    assert.equal((await send(sy.adminPort, 'GET', '/readyz', {})).status, 200);
    assert.equal((await send(sy.adminPort, 'GET', '/v1/status', { host: 'switchyard-admin.ops.svc:9090', authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await send(sy.adminPort, 'GET', '/v1/status', { host: 'other.ops.svc' })).code, 'SWY_ADMIN_HOST_REJECTED');
    assert.equal((await send(sy.adminPort, 'GET', '/v1/status', { host: 'other.ops.svc', authorization: `Bearer ${TOKEN}` })).status, 200);
    const wrong = await send(sy.adminPort, 'POST', '/v1/failover', { 'content-type': 'application/json', authorization: 'Bearer nope' }, '{"to":"west"}');
    assert.equal(wrong.code, 'SWY_ADMIN_UNAUTHORIZED');
  });
});

describe('admin API connection cap', () => {
  let sy: SwitchyardProcess;
  before(async () => { sy = await startSwitchyard({ config: config(east.url, west.url) }); });
  after(() => sy.stop());

  test('beyond 64 open connections new ones are closed at once and counted; freed, the API answers', async () => {
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 64; i++) {
        const s = connect({ host: '127.0.0.1', port: sy.adminPort });
        s.on('error', () => {});
        held.push(s);
        await new Promise((r) => s.once('connect', r));
      }
      await new Promise((r) => setTimeout(r, 200));
      const extra = connect({ host: '127.0.0.1', port: sy.adminPort });
      extra.on('error', () => {});
      const closed = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 3000);
        extra.once('close', () => { clearTimeout(t); resolve(true); });
      });
      assert.equal(closed, true, 'the 65th connection is closed at once');
    } finally {
      for (const s of held) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    const metrics = await send(sy.adminPort, 'GET', '/metrics', {});
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^switchyard_admin_connections_dropped_total [1-9]/m);
  });
});
