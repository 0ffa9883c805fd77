// Parity between the clusters against two fake API servers (test/support/README.md says what the
// fake covers): `switchyard check` reports drift in an image, a ConfigMap and missing capacity and
// exits 3; the `parity` precheck holds an automatic failover in `serve` (and --force moves anyway);
// API errors (401, 403, 404, timeouts) give clear codes and change nothing; serve's periodic
// comparison shows in /v1/status and as a line in the console (headless Chromium).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../support/browser.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fake-kube-api.ts';
import { BIN, NODE, startSwitchyard } from '../support/switchyard-process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

const SECRET_VALUE = 'hunter2-very-secret';

function populate(api: FakeKubeApi, opts: { image?: string; config?: string; maxReplicas?: number } = {}): void {
  api.setDeployment('app', 'web', {
    replicas: 3,
    podSpec: {
      containers: [{ name: 'app', image: opts.image ?? 'registry.example/app:1.4@sha256:aaaa', envFrom: [{ secretRef: { name: 'web-secret' } }] }],
      volumes: [{ name: 'config', configMap: { name: 'web-config' } }, { name: 'data', persistentVolumeClaim: { claimName: 'web-data' } }],
    },
  });
  api.setImage('app', 'web', opts.image ?? 'registry.example/app:1.4@sha256:aaaa');
  api.setHpa('app', 'web', { minReplicas: 3, maxReplicas: opts.maxReplicas ?? 10 });
  api.put('configmaps', 'app', 'web-config', { data: { 'app.yaml': opts.config ?? 'feature: on\n' } });
  api.put('secrets', 'app', 'web-secret', { type: 'Opaque', data: { password: Buffer.from(SECRET_VALUE).toString('base64') } });
  api.put('persistentvolumeclaims', 'app', 'web-data', { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
  api.put('services', 'app', 'web', { spec: { ports: [{ port: 80 }] } });
}

function configText(east: FakeKubeApi, west: FakeKubeApi, opts: { eastKubeconfig?: string; extra?: string } = {}): string {
  return `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2]
    kubernetes: { kubeconfig: "${opts.eastKubeconfig ?? east.kubeconfigPath('east')}", context: east }
    probes: [{ kubernetes: { readyz: true } }]
  - name: west
    addresses: [127.0.0.3]
    kubernetes: { kubeconfig: "${west.kubeconfigPath('west')}", context: west }
    probes: [{ kubernetes: { readyz: true } }]
parity:
  interval: 1s
  timeout: 2s
  namespaces:
    - { name: app, deployments: [web], services: [web] }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
${opts.extra ?? ''}`;
}

interface CheckResult { code: number | null; stdout: string; stderr: string }
function runCheck(config: string, json = true): Promise<CheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-check-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, config.replaceAll('${DNS_PORT}', '53').replaceAll('${ADMIN_PORT}', '9090'));
  return new Promise((resolve) => {
    const child = execFile(NODE, [BIN, 'check', '--config', file, ...(json ? ['--json'] : [])], { timeout: 30_000, env: { PATH: process.env.PATH ?? '' } }, (_err, stdout, stderr) => {
      resolve({ code: child.exitCode, stdout, stderr });
    });
  });
}

interface Report { blocking: boolean; reports: Array<{ differences: Array<{ kind: string; object: string; values: Record<string, string>; blocking: boolean; short?: string }> }> }

async function pair(): Promise<[FakeKubeApi, FakeKubeApi]> {
  const east = await startFakeKubeApi();
  const west = await startFakeKubeApi();
  cleanups.push(() => east.close(), () => west.close());
  return [east, west];
}

test('switchyard check: identical clusters exit 0; drift in an image, a ConfigMap and capacity is reported and exits 3; values never shown', { timeout: 60_000 }, async () => {
  const [east, west] = await pair();
  populate(east);
  populate(west, { image: 'registry.example/app:1.4-rebuilt@sha256:aaaa' });   // same digest, other tag: no difference
  const same = await runCheck(configText(east, west));
  assert.equal(same.code, 0, same.stderr + same.stdout);
  assert.deepEqual((JSON.parse(same.stdout) as Report).reports[0].differences, []);

  populate(west, { image: 'registry.example/app:1.5@sha256:bbbb', config: 'feature: off\n', maxReplicas: 4 });
  west.remove('services', 'app', 'web');
  const drift = await runCheck(configText(east, west));
  assert.equal(drift.code, 3, drift.stderr + drift.stdout);
  const report = JSON.parse(drift.stdout) as Report;
  assert.equal(report.blocking, true);
  const found = report.reports[0].differences.map((d) => `${d.kind} ${d.object}`).sort();
  assert.deepEqual(found, [
    'capacity deployment app/web',
    'configmap configmap app/web-config',
    'image deployment app/web container app',
    'missing service app/web',
  ]);
  const capacity = report.reports[0].differences.find((d) => d.kind === 'capacity')!;
  assert.equal(capacity.short, 'west');
  assert.deepEqual(capacity.values, { east: '10 (hpa web maxReplicas)', west: '4 (hpa web maxReplicas)' });
  assert.ok(!drift.stdout.includes('feature:') && !drift.stdout.includes(SECRET_VALUE), 'no ConfigMap or Secret value is printed');

  // The secret changes too: reported by hash only, in the table form as well.
  west.put('secrets', 'app', 'web-secret', { type: 'Opaque', data: { password: Buffer.from(`${SECRET_VALUE}!`).toString('base64') } });
  const table = await runCheck(configText(east, west), false);
  assert.equal(table.code, 3);
  assert.match(table.stdout, /secret\s+secret app\/web-secret\s+content hmac:[0-9a-f]{16}\s+content hmac:[0-9a-f]{16}\s+yes/);
  assert.match(table.stdout, /image\s+deployment app\/web container app\s+registry\.example\/app:1\.4@sha256:aaaa\s+registry\.example\/app:1\.5@sha256:bbbb\s+yes/);
  assert.ok(!table.stdout.includes(SECRET_VALUE) && !table.stdout.includes(Buffer.from(SECRET_VALUE).toString('base64')));
  // Only reads were sent.
  for (const api of [east, west]) assert.deepEqual([...new Set(api.requests().filter((r) => r.path.startsWith('/api')).map((r) => r.method))], ['GET']);
});

test('switchyard check: a named Ingress and a PVC the pod template uses, missing on one side, are reported', { timeout: 60_000 }, async () => {
  const [east, west] = await pair();
  populate(east);
  populate(west);
  east.put('ingresses', 'app', 'web', { spec: { rules: [{ host: 'app.example.com' }] } });
  west.put('ingresses', 'app', 'web', { spec: { rules: [{ host: 'app.example.com' }] } });
  const withIngress = configText(east, west).replace('services: [web] }', 'services: [web], ingresses: [web] }');
  const same = await runCheck(withIngress);
  assert.equal(same.code, 0, same.stderr + same.stdout);

  west.remove('ingresses', 'app', 'web');
  west.remove('persistentvolumeclaims', 'app', 'web-data');   // not named in the config: found through the pod template's volumes
  const drift = await runCheck(withIngress);
  assert.equal(drift.code, 3, drift.stderr + drift.stdout);
  const diffs = (JSON.parse(drift.stdout) as Report).reports[0].differences;
  assert.deepEqual(diffs.map((d) => `${d.kind} ${d.object} ${JSON.stringify(d.values)}`).sort(), [
    'missing ingress app/web {"east":"present","west":"absent"}',
    'missing persistentvolumeclaim app/web-data {"east":"present","west":"absent"}',
  ]);
});

/** A pod of Deployment app/web (label app=web) whose container `app` runs `imageID`. */
function runPod(api: FakeKubeApi, name: string, image: string, imageID: string): void {
  api.put('pods', 'app', name, {
    metadata: { labels: { app: 'web' } },
    spec: { containers: [{ name: 'app', image }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'app', image, imageID, ready: true, restartCount: 0 }] },
  });
}

test('switchyard check: images are compared by the digest the pods report, not by the template tag', { timeout: 60_000 }, async () => {
  const [east, west] = await pair();
  populate(east, { image: 'registry.example/app:1.2' });
  populate(west, { image: 'registry.example/app:1.2' });
  // A pod of another Deployment (other labels) must not count.
  west.put('pods', 'app', 'other-0', { metadata: { labels: { app: 'other' } }, spec: { containers: [{ name: 'app', image: 'x' }] }, status: { containerStatuses: [{ name: 'app', image: 'x', imageID: 'docker-pullable://registry.example/app@sha256:ffff' }] } });
  runPod(east, 'web-0', 'registry.example/app:1.2', 'docker-pullable://registry.example/app@sha256:aaaa');
  runPod(west, 'web-0', 'registry.example/app:1.2', 'registry.example/app@sha256:bbbb');
  const drift = await runCheck(configText(east, west));
  assert.equal(drift.code, 3, drift.stderr + drift.stdout);
  const diffs = (JSON.parse(drift.stdout) as Report).reports[0].differences;
  assert.deepEqual(diffs.map((d) => `${d.kind} ${d.object}`), ['image deployment app/web container app']);
  assert.deepEqual(diffs[0].values, { east: 'registry.example/app:1.2@sha256:aaaa', west: 'registry.example/app:1.2@sha256:bbbb' });

  // Same digest under another tag spelling (and another imageID form): no difference.
  west.setImage('app', 'web', 'registry.example/app:1.2-rebuilt');
  runPod(west, 'web-0', 'registry.example/app:1.2-rebuilt', 'registry.example/app@sha256:aaaa');
  const same = await runCheck(configText(east, west));
  assert.equal(same.code, 0, same.stderr + same.stdout);
  assert.deepEqual((JSON.parse(same.stdout) as Report).reports[0].differences, []);

  // No pod reports a digest on either side: the template references are compared (tags differ).
  east.remove('pods', 'app', 'web-0');
  west.remove('pods', 'app', 'web-0');
  const byTag = await runCheck(configText(east, west));
  assert.equal(byTag.code, 3, byTag.stderr + byTag.stdout);
  assert.deepEqual((JSON.parse(byTag.stdout) as Report).reports[0].differences.map((d) => d.kind), ['image']);
});

test('switchyard check: API errors give clear codes, exit 1, and change nothing', { timeout: 90_000 }, async () => {
  const [east, west] = await pair();
  populate(east);
  populate(west);
  const writes = () => [east, west].flatMap((a) => a.requests()).filter((r) => r.method !== 'GET').length;

  const bad = await startFakeKubeApi({ token: 'right' });
  cleanups.push(() => bad.close());
  populate(bad);
  const unauthorized = await runCheck(configText(east, west, { eastKubeconfig: bad.kubeconfigPath('east', { token: 'wrong' }) }));
  assert.equal(unauthorized.code, 1, unauthorized.stdout);
  assert.match(JSON.parse(unauthorized.stdout).error.code, /^SWY_PARITY_UNKNOWN$/);
  assert.match(unauthorized.stderr, /SWY_PARITY_UNKNOWN: parity unknown: SWY_KUBE_UNAUTHORIZED: .* in cluster east/);

  // A namespace or object that does not exist is not an error but a difference (missing on one side).
  const otherNs = await runCheck(configText(east, west).replace('- { name: app, deployments: [web], services: [web] }', '- { name: app, deployments: [web] }\n    - { name: nowhere, services: [web] }'));
  assert.equal(otherNs.code, 3);
  assert.match(otherNs.stdout, /"object": "service nowhere\/web"/);

  west.forbid('get', 'configmaps');
  const forbidden = await runCheck(configText(east, west));
  assert.equal(forbidden.code, 1);
  assert.match(forbidden.stderr, /SWY_KUBE_FORBIDDEN: read configmap app\/web-config in cluster west: .*cannot get resource "configmaps"/);


  const slow = await startFakeKubeApi();
  cleanups.push(() => slow.close());
  slow.setReady('hang');
  const t0 = Date.now();
  const timeout = await runCheck(configText(east, west, { eastKubeconfig: slow.kubeconfigPath('east') }));
  assert.equal(timeout.code, 1);
  assert.match(timeout.stderr, /SWY_PARITY_UNKNOWN: parity unknown: SWY_KUBE_TIMEOUT/);
  assert.ok(Date.now() - t0 < 20_000, 'parity.timeout (2s) bounds the check');
  assert.equal(writes(), 0, 'check never writes');
});

test('serve: the parity precheck holds an automatic failover on drift; --force moves; metrics per kind', { timeout: 90_000 }, async () => {
  const [east, west] = await pair();
  populate(east);
  populate(west, { image: 'registry.example/app:1.5@sha256:bbbb', config: 'feature: off\n', maxReplicas: 4 });
  const sy = await startSwitchyard({ config: configText(east, west, { extra: 'health: { interval: 500ms, timeout: 300ms, fall: 2, rise: 1 }\nfailover: { cooldown: 0s, prechecks: [parity] }\n' }) });
  cleanups.push(() => sy.stop());
  const metrics = async () => (await (await fetch(`${sy.adminUrl}/metrics`)).text());
  let m = '';
  for (let i = 0; i < 100 && !/switchyard_parity_differences\{kind="image"\} 1/.test(m); i++) { await sleep(100); m = await metrics(); }
  assert.match(m, /switchyard_parity_differences\{kind="image"\} 1/);
  assert.match(m, /switchyard_parity_differences\{kind="configmap"\} 1/);
  assert.match(m, /switchyard_parity_differences\{kind="capacity"\} 1/);
  assert.match(m, /switchyard_parity_differences\{kind="secret"\} 0/);
  assert.match(m, /switchyard_parity_blocking 1/);
  assert.match(sy.logs(), /parity: 3 difference\(s\) between the clusters/);

  // /v1/status and the console carry the same comparison: one line, never a ConfigMap value.
  const view = (await (await fetch(`${sy.adminUrl}/v1/status`)).json() as { parity: { checkedAt: string | null; error: string | null; reports: Array<{ clusters: string[]; differences: Array<{ kind: string }> }> } }).parity;
  assert.equal(view.error, null);
  assert.ok(view.checkedAt);
  assert.deepEqual(view.reports.map((r) => [r.clusters, r.differences.map((d) => d.kind).sort()]), [[['east', 'west'], ['capacity', 'configmap', 'image']]]);
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  await page.goto(sy.adminUrl);
  await page.waitForSelector('#parity', { timeout: 15_000 });
  const line = (await page.textContent('#parity')) ?? '';
  assert.match(line, /^parity east ↔ west: 3 difference\(s\), 3 blocking /);
  assert.match(line, /image deployment app\/web container app \(east registry\.example\/app:1\.4@sha256:aaaa, west registry\.example\/app:1\.5@sha256:bbbb\)/);
  assert.match(line, /configmap configmap app\/web-config \(east content hmac:[0-9a-f]{16}, west content hmac:[0-9a-f]{16}\)/);
  assert.match(line, /capacity deployment app\/web \(east 10 \(hpa web maxReplicas\), west 4 \(hpa web maxReplicas\)\)/);
  assert.ok(!line.includes('feature:'), 'no ConfigMap value in the console');
  assert.equal(await page.getAttribute('#parity', 'data-parity'), 'blocking');
  // Parity unknown: west's API refuses three rounds' reads (403); the line says so with the code, then recovers.
  west.failNext('GET', '/api/v1/namespaces/app/configmaps', 403, 3);
  await page.waitForFunction("document.querySelector('#parity')?.dataset.parity === 'unknown'", undefined, { timeout: 15_000 });
  assert.match((await page.textContent('#parity')) ?? '', /^parity: unknown SWY_PARITY_UNKNOWN: .*SWY_KUBE_FORBIDDEN/);
  await page.waitForFunction("document.querySelector('#parity')?.dataset.parity === 'blocking'", undefined, { timeout: 15_000 });
  await page.close();

  const status = async () => (await fetch(`${sy.adminUrl}/v1/status`)).json() as Promise<{ active: string; state: string; reason: string }>;
  for (let i = 0; i < 100 && !(await fetch(`${sy.adminUrl}/v1/status`).then((r) => r.json() as Promise<{ clusters: Array<{ healthy: boolean | null }> }>)).clusters.every((c) => c.healthy === true); i++) await sleep(100);
  east.setReady(false);   // east's readyz fails: an automatic failover to west is due
  let s = await status();
  for (let i = 0; i < 150 && s.state !== 'held'; i++) { await sleep(100); s = await status(); }
  assert.equal(s.state, 'held', sy.logs().slice(-3000));
  assert.equal(s.active, 'east', 'nothing moved');
  assert.match(s.reason, /parity: SWY_PARITY_DRIFT: west differs from east: .*image deployment app\/web container app/);
  assert.match(s.reason, /capacity deployment app\/web: east 10 .*west 4/);

  // Break-glass.
  const res = await fetch(`${sy.adminUrl}/v1/failover`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: 'west', force: true, reason: 'test break-glass' }) });
  assert.equal(res.status, 200, await res.text());
  s = await status();
  assert.equal(s.active, 'west');
});
