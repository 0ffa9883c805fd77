// Issue 9, connection budgets, against a real `switchyard serve` whose open-file limit the test
// sets itself (prlimit --nofile=4096), so the outcome does not depend on the machine's ulimit:
// - 20,000 idle connections to the proxy (two flood processes, 200 source addresses in
//   127.0.0.0/8, re-opening whatever the proxy closes) leave the admin API, the probes, DNS over
//   TCP (dig +tcp) and a normal proxy client working;
// - DNS over TCP: 1,000 connections of one client trickling a byte every 5 s, and 1,200 idle
//   connections from 40 sources (over dns.tcp.maxConnections), do not starve a real dig query;
// - the Connection-header trick leaves the forwarding headers intact at a real origin.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { dig } from '../support/dig.ts';
import { startHealthEndpoint } from '../support/health-endpoint.ts';
import { startOrigin } from '../support/proxy-fixtures.ts';
import { NODE, REPO, startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FD_LIMIT = 4096;

const config = (east: string, west: string, extra: string) => `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], upstream: "\${EAST_UPSTREAM}", probes: [{ http: { name: east-health, url: "${east}" } }] }
  - { name: west, addresses: [127.0.0.3], upstream: "\${WEST_UPSTREAM}", probes: [{ http: { name: west-health, url: "${west}" } }] }
health: { interval: 1s, timeout: 1s, fall: 20, rise: 1 }
failover: { automatic: false }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
log: { level: warn }
${extra}`;

interface Flood { child: ChildProcess; last(): { open: number; connects: number; closedByServer: number }; done: Promise<void> }

function flood(port: number, count: number, first: number, sources: number, holdMs: number, mode: 'idle' | 'trickle', trickleMs = 5000): Flood {
  const child = spawn(NODE, [join(REPO, 'test/support/tcp-flood.ts'), String(port), String(count), String(first), String(sources), String(holdMs), mode, String(trickleMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = { open: 0, connects: 0, closedByServer: 0 };
  let buf = '';
  child.stdout!.on('data', (c) => {
    buf += c;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      const m = /open=(\d+) connects=(\d+) closedByServer=(\d+)/.exec(l);
      if (m) last = { open: Number(m[1]), connects: Number(m[2]), closedByServer: Number(m[3]) };
    }
  });
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  cleanups.push(async () => { child.kill('SIGKILL'); await done; });
  return { child, last: () => last, done };
}

function get(port: number, path: string, headers: Record<string, string>, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, localAddress, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function metric(sy: SwitchyardProcess, name: string): Promise<number> {
  const text = await (await fetch(`${sy.adminUrl}/metrics`, { signal: AbortSignal.timeout(15_000) })).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `metric ${name} present`);
  return Number(m[1]);
}

async function setup(extra: string, upstreamHandler?: (headers: IncomingHttpHeaders) => void) {
  const eastHealth = await startHealthEndpoint('127.0.0.2');
  const westHealth = await startHealthEndpoint('127.0.0.3');
  const east = await startOrigin('127.0.0.2', (req, res) => { upstreamHandler?.(req.headers); res.end(JSON.stringify({ from: 'east', headers: req.headers })); });
  const west = await startOrigin('127.0.0.3', (_req, res) => res.end('west'));
  cleanups.push(() => eastHealth.kill(), () => westHealth.kill(), () => east.kill(), () => west.kill());
  const sy = await startSwitchyard({
    config: config(eastHealth.url, westHealth.url, extra),
    env: { EAST_UPSTREAM: east.url, WEST_UPSTREAM: west.url },
    prefix: ['prlimit', `--nofile=${FD_LIMIT}:${FD_LIMIT}`, '--'],
  });
  cleanups.push(() => sy.stop());
  return sy;
}

describe('20,000 idle connections to the proxy', () => {
  test('admin, probes, DNS over TCP and a real proxy client keep working; descriptors stay within the budget', { timeout: 300_000 }, async () => {
    const sy = await setup(`proxy: { listen: "127.0.0.1:\${PROXY_PORT}", maxConnectionsPerSource: 16 }`);
    assert.match(sy.logs(), /open-file limit 4096: lowered .*proxy\.maxConnections 10000 → \d+/, 'the budget was applied');
    const limit = await metric(sy, 'switchyard_proxy_connections_limit');
    assert.ok(limit > 1000 && limit < FD_LIMIT - 256, `proxy limit ${limit}`);

    const holdMs = 150_000;   // longer than the wait and the checks below: the floods stay until killed
    const floods = [flood(sy.proxyPort, 10_000, 10, 100, holdMs, 'idle'), flood(sy.proxyPort, 10_000, 110, 100, holdMs, 'idle')];
    const began = Date.now();
    while (floods.reduce((n, f) => n + f.last().connects, 0) < 20_000 && Date.now() - began < 90_000) await sleep(200);
    const connects = floods.reduce((n, f) => n + f.last().connects, 0);
    assert.ok(connects >= 20_000, `the floods opened ${connects} connections`);

    let before = (await (await fetch(`${sy.adminUrl}/v1/status`, { signal: AbortSignal.timeout(15_000) })).json() as { clusters: Array<{ probes: Array<{ checkedAt: string | null; ok: boolean | null }> }> }).clusters[0].probes[0].checkedAt;
    for (let round = 0; round < 3; round++) {
      const health = await fetch(`${sy.adminUrl}/healthz`, { signal: AbortSignal.timeout(15_000) });
      assert.equal(health.status, 200, 'the admin API answers');
      const s = await (await fetch(`${sy.adminUrl}/v1/status`, { signal: AbortSignal.timeout(15_000) })).json() as { clusters: Array<{ healthy: boolean; probes: Array<{ checkedAt: string | null; ok: boolean | null; error: string | null }> }> };
      assert.equal(s.clusters[0].healthy, true, `east stays healthy: ${JSON.stringify(s.clusters[0])}`);
      assert.equal(s.clusters[0].probes[0].error, null, 'the last probe of east succeeded');
      if (round > 0) assert.notEqual(s.clusters[0].probes[0].checkedAt, before, 'probes keep running');
      before = s.clusters[0].probes[0].checkedAt;
      const d = await dig(sy.dnsPort, ['app.example.com', 'A', '+tcp', '+norec']);
      assert.equal(d.status, 'NOERROR', `DNS over TCP: ${d.raw}`);
      assert.deepEqual(d.answers.map((a) => a.split(' ').at(-1)), ['127.0.0.2']);
      const r = await get(sy.proxyPort, '/', { host: 'app.example.com' }, '127.0.0.250');
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).from, 'east', 'a normal client is proxied');
      const open = await metric(sy, 'switchyard_proxy_connections');
      assert.ok(open <= limit, `${open} open ≤ ${limit}`);
      const fds = readdirSync(`/proc/${sy.child.pid}/fd`).length;
      assert.ok(fds < FD_LIMIT - 100, `switchyard holds ${fds} descriptors of ${FD_LIMIT}`);
      await sleep(1000);
    }
    assert.ok(await metric(sy, 'switchyard_proxy_connections_evicted_total') > 0, 'idle connections were evicted at the limit');
    const text = await (await fetch(`${sy.adminUrl}/metrics`)).text();
    const perSource = Number(/^switchyard_proxy_connections_refused_total\{reason="per_source"\} (\S+)$/m.exec(text)?.[1]);
    assert.ok(perSource > 0, `per-source refusals: ${perSource}`);
    for (const f of floods) f.child.kill('SIGKILL');
    await Promise.all(floods.map((f) => f.done));
    assert.doesNotMatch(sy.logs(), /EMFILE|too many open files/i);
  });
});

describe('DNS over TCP under a trickling and an idle flood', () => {
  test('a real dig query is answered while one client trickles on 1,000 connections and 40 sources hold 1,200 idle ones', { timeout: 180_000 }, async () => {
    const sy = await setup('');
    const trickle = flood(sy.dnsPort, 1000, 5, 1, 90_000, 'trickle', 5000);
    const idle = flood(sy.dnsPort, 1200, 10, 40, 90_000, 'idle');
    const began = Date.now();
    while ((trickle.last().connects < 1000 || idle.last().connects < 1200) && Date.now() - began < 60_000) await sleep(200);
    assert.ok(trickle.last().connects >= 1000 && idle.last().connects >= 1200, `floods started: ${JSON.stringify([trickle.last(), idle.last()])}`);
    await sleep(3000);   // past messageTimeout (2 s): trickled messages never complete
    for (let i = 0; i < 5; i++) {
      const d = await dig(sy.dnsPort, ['app.example.com', 'A', '+tcp', '+norec']);
      assert.equal(d.status, 'NOERROR', `query ${i}: ${d.raw}`);
      assert.deepEqual(d.answers.map((a) => a.split(' ').at(-1)), ['127.0.0.2']);
      await sleep(300);
    }
    const text = await (await fetch(`${sy.adminUrl}/metrics`)).text();
    const count = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    assert.ok(count('switchyard_dns_tcp_connections') <= 1000, 'within dns.tcp.maxConnections');
    assert.ok(count('switchyard_dns_tcp_rejected_total') > 0, 'the trickling client was held to its per-source share');
    assert.ok(count('switchyard_dns_tcp_evicted_total') > 0, 'idle connections made room');
    assert.ok(trickle.last().closedByServer > 0, 'trickled connections were cut at the message deadline');
    for (const f of [trickle, idle]) f.child.kill('SIGKILL');
    await Promise.all([trickle.done, idle.done]);
  });
});

describe('the Connection-header trick', () => {
  test('listing the forwarding headers in Connection strips none of them at the origin; forged ones are replaced', { timeout: 60_000 }, async () => {
    const seen: IncomingHttpHeaders[] = [];
    const sy = await setup(`proxy: { listen: "127.0.0.1:\${PROXY_PORT}" }`, (h) => seen.push(h));
    const r = await get(sy.proxyPort, '/', {
      host: 'app.example.com',
      connection: 'keep-alive, x-forwarded-for, forwarded, x-forwarded-proto, x-forwarded-host, x-drop-me',
      'x-forwarded-for': '6.6.6.6',
      forwarded: 'for=6.6.6.6',
      'x-drop-me': 'hop',
    }, '127.0.0.77');
    assert.equal(r.status, 200, r.body);
    assert.equal(seen.length, 1);
    const h = seen[0];
    assert.equal(h['x-forwarded-for'], '127.0.0.77', 'the proxy\'s own X-Forwarded-For, the forged one replaced');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'app.example.com');
    assert.equal(h.forwarded, 'for=127.0.0.77;host=app.example.com;proto=http');
    assert.equal(h['x-drop-me'], undefined, 'other listed headers are still hop-by-hop');
  });
});
