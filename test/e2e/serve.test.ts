// The `switchyard` command as a user runs it: validate, serve (admin endpoints, refusal of a
// corrupt state, clean shutdown), drill and demo.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digShort } from '../support/dig.ts';
import { startHealthEndpoint } from '../support/health-endpoint.ts';
import { BIN, NODE, runCli, startSwitchyard } from '../support/switchyard-process.ts';
import { freePort } from '../support/ports.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = (east: string, west: string, extra = '') => `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com, www.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2, "::2"], probes: [{ http: { url: "${east}" } }] }
  - { name: west, addresses: [127.0.0.3, "::3"], probes: [{ http: { url: "${west}" } }] }
health: { interval: 1s, timeout: 500ms, fall: 3, rise: 1 }
failover: { cooldown: 0s }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
${extra}`;

describe('switchyard validate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-validate-'));
  const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

  test('a valid file exits 0', async () => {
    const r = await runCli(['validate', '--config', file('ok.yaml', config('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h'))], { env: { DNS_PORT: '5353', ADMIN_PORT: '9090' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid \(zone example\.com, 2 hostname\(s\), clusters east, west/);
  });

  test('an invalid file exits 2 and lists every error with its key path', async () => {
    const bad = config('ftp://x', 'http://127.0.0.3:1/h').replace('nameservers:', 'ttl: 300, nameservers:').replace('cooldown: 0s', 'cooldown: 0s, colldown: 1s');
    const r = await runCli(['validate', '--config', file('bad.yaml', bad)], { env: { DNS_PORT: '5353' } });
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.some((l) => /^SWY_CONFIG_INVALID zone\.ttl: 300 is out of range 1\.\.60$/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /^SWY_CONFIG_INVALID clusters\[0\]\.probes\[0\]\.http\.url: /.test(l)), r.stderr);
    assert.ok(lines.some((l) => /^SWY_CONFIG_INVALID failover\.colldown: unknown property 'colldown'/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /^SWY_CONFIG_INVALID admin\.listen: environment variable ADMIN_PORT is not set$/.test(l)), r.stderr);
  });

  test('a missing file exits 2 with SWY_CONFIG_READ; no arguments is a usage error', async () => {
    const r = await runCli(['validate', '--config', join(dir, 'nope.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /SWY_CONFIG_READ/);
    const u = await runCli(['validate']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /validate needs --config FILE/);
    const x = await runCli(['frobnicate']);
    assert.equal(x.code, 2);
    assert.match(x.stderr, /unknown command 'frobnicate'/);
  });
});

describe('switchyard serve', () => {
  test('admin endpoints, status page and metrics', async () => {
    const east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    const sy = await startSwitchyard({ config: config(east.url, west.url) });
    cleanups.push(() => sy.stop());
    assert.deepEqual(await (await fetch(`${sy.adminUrl}/healthz`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${sy.adminUrl}/readyz`)).status, 200);
    await sleep(1500);
    const s = await (await fetch(`${sy.adminUrl}/v1/status`)).json() as Record<string, any>;
    assert.equal(s.active, 'east');
    assert.equal(s.state, 'steady');
    assert.equal(typeof s.generation, 'number');
    assert.equal(s.epoch, 0);
    assert.equal(s.lastTransition, null);
    assert.deepEqual(s.clusters.map((c: any) => [c.name, c.healthy, c.addresses]), [['east', true, ['127.0.0.2', '::2']], ['west', true, ['127.0.0.3', '::3']]]);
    const probe = s.clusters[0].probes.find((p: any) => p.name !== 'passive');
    assert.equal(probe.ok, true);
    assert.equal(typeof probe.latencyMs, 'number');
    assert.equal(probe.error, null);
    const page = await fetch(`${sy.adminUrl}/`);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /Active: <b>east<\/b>/);
    const metrics = await (await fetch(`${sy.adminUrl}/metrics`)).text();
    for (const name of ['switchyard_routing_generation', 'switchyard_routing_active{cluster="east"} 1', 'switchyard_failover_held 0', 'switchyard_health_cluster_up', 'switchyard_dns_answer_table_generation', 'switchyard_process_cpu_seconds_total']) {
      assert.ok(metrics.includes(name), `metrics has ${name}`);
    }
    const nf = await fetch(`${sy.adminUrl}/v2/nothing`);
    assert.equal(nf.status, 404);
    assert.equal(((await nf.json()) as { error: { code: string } }).error.code, 'SWY_ADMIN_NOT_FOUND');
    const st = await runCli(['status', '--admin', sy.adminUrl]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^active: east \(preferred\)\s+state: steady/);
    assert.match(st.stdout, /east\*\s+healthy\s+127\.0\.0\.2,::2/);
  });

  test('SIGTERM shuts down cleanly with exit 0', async () => {
    const sy = await startSwitchyard({ config: config('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h') });
    assert.deepEqual(await digShort(sy.dnsPort, 'www.example.com'), ['127.0.0.2']);
    const code = await sy.stop('SIGTERM');
    assert.equal(code, 0, sy.logs());
    assert.match(sy.logs(), /shutdown complete/);
  });

  test('a corrupt state file stops the start and is left untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swy-corrupt-'));
    const stateText = '{"version":1,"generation":7,"epoch":2,"active":"west","state":"failed-over"';
    writeFileSync(join(dir, 'switchyard-state.json'), stateText);
    await assert.rejects(startSwitchyard({ dir, config: config('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h') }), /SWY_STATE_CORRUPT/);
    assert.equal(readFileSync(join(dir, 'switchyard-state.json'), 'utf8'), stateText);
  });

  test('a port in use stops the start with SWY_LISTEN_FAILED', async () => {
    const port = await freePort();
    const accepted: Socket[] = [];
    const blocker = createServer((s) => accepted.push(s));
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => { blocker.close(r); for (const s of accepted) s.destroy(); }));
    await assert.rejects(startSwitchyard({ config: config('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h'), ports: { admin: port } }), /SWY_LISTEN_FAILED/);
  });

  test('switchyard drill: a timed switchover report and converged answers', async () => {
    const east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    const sy = await startSwitchyard({ config: config(east.url, west.url, 'log: { level: warn }').replace('failover: { cooldown: 0s }', `failover:
  cooldown: 0s
  steps:
    - switch-traffic
    - exec: { name: notify, command: [/bin/sleep, "0.2"] }`) });
    cleanups.push(() => sy.stop());
    for (let i = 0; i < 50; i++) {
      const s = await (await fetch(`${sy.adminUrl}/v1/status`)).json() as { clusters: Array<{ healthy: boolean | null }> };
      if (s.clusters.every((c) => c.healthy)) break;
      await sleep(100);
    }
    const r = await runCli(['drill', '--admin', sy.adminUrl]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${sy.logs()}`);
    assert.match(r.stdout, /switchover east → west, epoch 1: completed/);
    assert.match(r.stdout, /notify\s+\d+ ms\s+done/);
    assert.match(r.stdout, /ok {3}www\.example\.com AAAA @127\.0\.0\.1:\d+: ::3/);
    assert.match(r.stdout, /converged: yes/);
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.3']);
  });
});

test('switchyard failover waits for a transition longer than the usual request timeout', { timeout: 60_000 }, async () => {
  const sy = await startSwitchyard({ config: config('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h', 'log: { level: warn }').replace('failover: { cooldown: 0s }', `failover:
  cooldown: 0s
  steps:
    - switch-traffic
    - exec: { name: slow-hook, timeout: 30s, command: [/bin/sleep, "12"] }`) });
  cleanups.push(() => sy.stop());
  const t0 = Date.now();
  const r = await runCli(['failover', '--to', 'west', '--force', '--admin', sy.adminUrl], { timeoutMs: 40_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.ok(Date.now() - t0 >= 12_000);
  assert.match(r.stdout, /switchover|failover east→west completed/);
});

test('switchyard demo: a failover within seconds of taking the active cluster down', { timeout: 60_000 }, async () => {
  const [dns, proxy, admin, app] = [await freePort(), await freePort(), await freePort(), await freePort('127.0.0.2')];
  const child = spawn(NODE, [BIN, 'demo', '--dns-port', String(dns), '--proxy-port', String(proxy), '--admin-port', String(admin), '--app-port', String(app), '--exit-after', '30s'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(async () => { child.kill('SIGTERM'); await exited; });
  for (let i = 0; i < 100 && !out.includes('Watching for transitions'); i++) await sleep(100);
  assert.match(out, /dig @127\.0\.0\.1 -p \d+ app\.example\.com \+short/, out);
  for (let i = 0; i < 50 && (await digShort(dns, 'app.example.com').catch(() => []))[0] !== '127.0.0.2'; i++) await sleep(100);
  await sleep(2500);
  const fail = await fetch('http://127.0.0.2:18081/fail', { method: 'POST' });
  assert.equal(fail.status, 200);
  const t0 = Date.now();
  let answer: string[] = [];
  while (Date.now() - t0 < 10_000) {
    answer = await digShort(dns, 'app.example.com');
    if (answer[0] === '127.0.0.3') break;
    await sleep(100);
  }
  assert.deepEqual(answer, ['127.0.0.3'], out);
  for (let i = 0; i < 50 && !(out.includes('[webhook] notified: failover east → west') && out.includes('state: failed-over')); i++) await sleep(100);
  assert.match(out, /\[webhook\] notified: failover east → west \(epoch 1\)/);
  assert.match(out, /active: west, state: failed-over/);
  const dir = /config and state in (\S+)/.exec(out)![1];
  assert.ok(existsSync(join(dir, 'state.json')), out);
  child.kill('SIGINT');
  assert.equal(await exited, 0, out);
  assert.equal(existsSync(dir), false, 'Ctrl-C removes the demo\'s temp folder');
});
