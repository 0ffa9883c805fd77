// Addresses from Kubernetes, whole process: `switchyard serve` answers with the IPs of a Service's
// status.loadBalancer.ingress (watched in the cluster's context, against the fake API server), and
// a change of that status moves the answer that dig and c-ares get. A hostname, a deleted
// Service and an unreachable API server keep the last good list; a watch that fails restarts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as dnsPromises } from 'node:dns';
import { digShort } from '../support/dig.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fake-kube-api.ts';
import { startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

const lbService = (ips: Array<{ ip?: string; hostname?: string }>) => ({
  metadata: { labels: { app: 'web' } },
  spec: { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }], selector: { app: 'web' } },
  status: { loadBalancer: { ingress: ips } },
});

async function cares(port: number, name: string): Promise<string[]> {
  const r = new dnsPromises.Resolver({ timeout: 1500, tries: 2 });
  r.setServers([`127.0.0.1:${port}`]);
  return (await r.resolve4(name)).sort();
}

/** Polls dig until it answers `want` (at most ~15 s on a loaded machine); returns the last answer. */
async function digUntil(sy: SwitchyardProcess, want: string[]): Promise<string[]> {
  let got: string[] = [];
  for (let i = 0; i < 150; i++) {
    got = await digShort(sy.dnsPort, 'app.example.com');
    if (JSON.stringify(got) === JSON.stringify(want)) return got;
    await sleep(100);
  }
  return got;
}

async function metric(sy: SwitchyardProcess, name: string): Promise<string> {
  const text = await (await fetch(`${sy.adminUrl}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).join('\n');
}

async function start(east: FakeKubeApi, from = 'fromService'): Promise<SwitchyardProcess> {
  const sy = await startSwitchyard({
    config: `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: { ${from}: { namespace: app, name: web } }
    kubernetes: { kubeconfig: "${east.kubeconfigPath('east')}", context: east }
    probes: [{ kubernetes: { readyz: true } }]
  - name: west
    addresses: [127.0.0.3]
    probes: [{ tcp: { address: "127.0.0.3:1" } }]
failover: { automatic: false }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
`,
  });
  cleanups.push(() => sy.stop());
  return sy;
}

test('a Service\'s load balancer address change moves the DNS answer (dig and c-ares); bad readings keep the last good list', { timeout: 120_000 }, async () => {
  const east = await startFakeKubeApi();
  cleanups.push(() => east.close());
  east.put('services', 'app', 'web', lbService([{ ip: '127.0.0.2' }]));
  east.put('services', 'app', 'other', lbService([{ ip: '127.0.0.9' }]));
  const sy = await start(east);

  assert.deepEqual(await digUntil(sy, ['127.0.0.2']), ['127.0.0.2'], sy.logs().slice(-3000));
  assert.deepEqual(await cares(sy.dnsPort, 'app.example.com'), ['127.0.0.2']);

  // A change of the status (the cloud moved the load balancer) reaches DNS through the watch.
  const listsBefore = east.requests().filter((r) => r.method === 'GET' && r.path.startsWith('/api/v1/namespaces/app/services') && !r.path.includes('watch=')).length;
  east.edit('services', 'app', 'web', (o) => { (o.status as { loadBalancer: unknown }).loadBalancer = { ingress: [{ ip: '127.0.0.5' }, { ip: '127.0.0.4' }] }; });
  assert.deepEqual(await digUntil(sy, ['127.0.0.4', '127.0.0.5']), ['127.0.0.4', '127.0.0.5'], sy.logs().slice(-3000));
  assert.deepEqual(await cares(sy.dnsPort, 'app.example.com'), ['127.0.0.4', '127.0.0.5']);
  const listsAfter = east.requests().filter((r) => r.method === 'GET' && r.path.startsWith('/api/v1/namespaces/app/services') && !r.path.includes('watch=')).length;
  assert.equal(listsAfter, listsBefore, 'the change came through the watch, not by polling');
  const status = await (await fetch(`${sy.adminUrl}/v1/status`)).json() as { clusters: Array<{ name: string; addresses: string[] }> };
  assert.deepEqual(status.clusters.find((c) => c.name === 'east')!.addresses, ['127.0.0.4', '127.0.0.5']);
  // Another Service in the namespace changing does nothing.
  east.edit('services', 'app', 'other', (o) => { (o.status as { loadBalancer: unknown }).loadBalancer = { ingress: [{ ip: '127.0.0.8' }] }; });

  // A hostname (an AWS-style load balancer) is rejected with a clear code; the last good list stays.
  east.edit('services', 'app', 'web', (o) => { (o.status as { loadBalancer: unknown }).loadBalancer = { ingress: [{ hostname: 'abc.elb.example.net' }] }; });
  for (let i = 0; i < 100 && !sy.logs().includes('SWY_ADDRESSES_HOSTNAME'); i++) await sleep(100);
  assert.match(sy.logs(), /SWY_ADDRESSES_HOSTNAME.*abc\.elb\.example\.net/);
  assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.4', '127.0.0.5']);
  assert.match(await metric(sy, 'switchyard_addresses_stale'), /switchyard_addresses_stale\{cluster="east"\} 1/);

  // Deleted: still the last good list.
  east.remove('services', 'app', 'web');
  for (let i = 0; i < 100 && !sy.logs().includes('SWY_ADDRESSES_NOT_FOUND'); i++) await sleep(100);
  assert.match(sy.logs(), /SWY_ADDRESSES_NOT_FOUND/);
  assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.4', '127.0.0.5']);

  // The API server goes away: the watch ends, relisting fails (informer error), the list stays served.
  east.setReady('close');
  east.breakWatches();
  for (let i = 0; i < 100 && !/SWY_KUBE_UNREACHABLE/.test(sy.logs()); i++) await sleep(100);
  assert.match(sy.logs(), /SWY_KUBE_UNREACHABLE/);
  assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.4', '127.0.0.5']);

  // It comes back with the Service recreated under a new address: the restarted informer finds it.
  east.put('services', 'app', 'web', lbService([{ ip: '127.0.0.6' }]));
  east.setReady(true);
  assert.deepEqual(await digUntil(sy, ['127.0.0.6']), ['127.0.0.6'], sy.logs().slice(-3000));
  assert.match(await metric(sy, 'switchyard_addresses_stale'), /switchyard_addresses_stale\{cluster="east"\} 0/);

  // A watch answered with an error status (not 410) stops client-node's informer: switchyard restarts it.
  east.failNext('GET', '/api/v1/namespaces/app/services', 500, 1);
  east.breakWatches();
  for (let i = 0; i < 100 && !/restarting in/.test(sy.logs().split('127.0.0.6').at(-1)!); i++) await sleep(100);
  east.edit('services', 'app', 'web', (o) => { (o.status as { loadBalancer: unknown }).loadBalancer = { ingress: [{ ip: '127.0.0.7' }] }; });
  assert.deepEqual(await digUntil(sy, ['127.0.0.7']), ['127.0.0.7'], sy.logs().slice(-3000));
  assert.deepEqual(await cares(sy.dnsPort, 'app.example.com'), ['127.0.0.7']);
});

test('401 and 403 from the API server give their codes and keep the last good list; the watch comes back by itself', { timeout: 120_000 }, async () => {
  const east = await startFakeKubeApi();
  cleanups.push(() => east.close());
  east.put('services', 'app', 'web', lbService([{ ip: '127.0.0.2' }]));
  const sy = await start(east);
  assert.deepEqual(await digUntil(sy, ['127.0.0.2']), ['127.0.0.2'], sy.logs().slice(-3000));
  const errorsOf = async (code: string) => Number(/ (\d+)$/.exec((await metric(sy, 'switchyard_addresses_errors_total')).split('\n').find((l) => l.includes(`code="${code}"`)) ?? ' 0')![1]);

  for (const [status, code] of [[403, 'SWY_KUBE_FORBIDDEN'], [401, 'SWY_KUBE_UNAUTHORIZED']] as const) {
    // The resumed watch and the relist after it are refused; the answer must not move meanwhile.
    east.failNext('GET', '/api/v1/namespaces/app/services', status, 2);
    east.breakWatches();
    for (let i = 0; i < 100 && (await errorsOf(code)) === 0; i++) await sleep(100);
    assert.ok((await errorsOf(code)) >= 1, `${code} counted\n${sy.logs().slice(-3000)}`);
    assert.match(sy.logs(), new RegExp(`addresses of east not updated, still 127\\.0\\.0\\.2: ${code}`));
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.2'], 'the last good list is served');
    // Once the API server answers again, a change is followed.
    const next = status === 403 ? '127.0.0.4' : '127.0.0.5';
    east.edit('services', 'app', 'web', (o) => { (o.status as { loadBalancer: unknown }).loadBalancer = { ingress: [{ ip: next }] }; });
    assert.deepEqual(await digUntil(sy, [next]), [next], sy.logs().slice(-3000));
    east.edit('services', 'app', 'web', (o) => { (o.status as { loadBalancer: unknown }).loadBalancer = { ingress: [{ ip: '127.0.0.2' }] }; });
    assert.deepEqual(await digUntil(sy, ['127.0.0.2']), ['127.0.0.2']);
  }
  assert.equal(east.requests().filter((r) => r.method !== 'GET').length, 0, 'the address book never writes');
});

test('fromIngress: the answers follow an Ingress\'s load balancer status through its watch', { timeout: 60_000 }, async () => {
  const east = await startFakeKubeApi();
  cleanups.push(() => east.close());
  const ingress = (ip: string) => ({ spec: { rules: [{ host: 'app.example.com' }] }, status: { loadBalancer: { ingress: [{ ip }] } } });
  east.put('ingresses', 'app', 'web', ingress('127.0.0.2'));
  east.put('services', 'app', 'web', lbService([{ ip: '127.0.0.9' }]));   // a Service of the same name is not what is read
  const sy = await start(east, 'fromIngress');
  assert.deepEqual(await digUntil(sy, ['127.0.0.2']), ['127.0.0.2'], sy.logs().slice(-3000));
  east.edit('ingresses', 'app', 'web', (o) => { (o.status as { loadBalancer: unknown }).loadBalancer = { ingress: [{ ip: '127.0.0.4' }] }; });
  assert.deepEqual(await digUntil(sy, ['127.0.0.4']), ['127.0.0.4'], sy.logs().slice(-3000));
  assert.ok(east.requests().some((r) => r.path.startsWith('/apis/networking.k8s.io/v1/namespaces/app/ingresses') && r.path.includes('watch=')), 'watched, not polled');
});
