// Whole-process failover driven by the kubernetes probe and running the kubernetes-scale step,
// against two fake Kubernetes API servers (see test/support/README.md for what the fake covers).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { digShort } from '../support/dig.ts';
import { startFakeKubeApi } from '../support/fake-kube-api.ts';
import { startSwitchyard } from '../support/switchyard-process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

test('a deployment losing its replicas fails over; the passive side is scaled up and waited for before traffic moves', { timeout: 60_000 }, async () => {
  const east = await startFakeKubeApi({ controllerDelayMs: 300 });
  const west = await startFakeKubeApi({ controllerDelayMs: 300 });
  cleanups.push(() => east.close(), () => west.close());
  east.setDeployment('app', 'web', { replicas: 6 });
  west.setDeployment('app', 'web', { replicas: 1 });
  const sy = await startSwitchyard({
    config: `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2]
    kubernetes: { kubeconfig: "${east.kubeconfigPath('east')}", context: east }
    probes:
      - kubernetes: { readyz: true }
      - kubernetes: { deployment: { namespace: app, name: web, minAvailable: 2 } }
  - name: west
    addresses: [127.0.0.3]
    kubernetes: { kubeconfig: "${west.kubeconfigPath('west')}", context: west }
    probes:
      - kubernetes: { readyz: true }
      - kubernetes: { deployment: { namespace: app, name: web, minAvailable: 1 } }
health: { interval: 1s, timeout: 500ms, fall: 2, rise: 1 }
failover:
  cooldown: 0s
  steps:
    - kubernetes-scale: { namespace: app, deployments: [web], replicas: 6, wait: true, timeout: 20s }
    - switch-traffic
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
`,
  });
  cleanups.push(() => sy.stop());
  const status = async () => (await fetch(`${sy.adminUrl}/v1/status`)).json() as Promise<{ active: string; state: string; clusters: Array<{ name: string; healthy: boolean | null }>; lastTransition: { journal: Array<{ step: string; phase: string; detail?: string; at: string }> } | null }>;
  for (let i = 0; i < 100 && !(await status()).clusters.every((c) => c.healthy === true); i++) await sleep(100);
  assert.ok((await status()).clusters.every((c) => c.healthy === true), `both clusters healthy at start\n${sy.logs().slice(-3000)}`);

  east.setDeployment('app', 'web', { replicas: 6, availableReplicas: 1, maxAvailable: 1 });
  let s = await status();
  for (let i = 0; i < 200 && s.state !== 'failed-over'; i++) { await sleep(100); s = await status(); }
  assert.equal(s.state, 'failed-over', sy.logs().slice(-4000));
  assert.equal(s.active, 'west');
  assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.3']);
  const w = west.deployment('app', 'web')!;
  assert.equal(w.spec.replicas, 6, 'the passive deployment was scaled up');
  assert.ok((w.status.availableReplicas ?? 0) >= 6);
  const journal = s.lastTransition!.journal;
  const scaled = journal.find((e) => e.step === 'kubernetes-scale' && e.phase === 'done')!;
  const switched = journal.find((e) => e.step === 'switch-traffic' && e.phase === 'done')!;
  assert.ok(Date.parse(scaled.at) <= Date.parse(switched.at), 'scaled (and waited) before traffic moved');
  assert.ok(west.requests().some((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/web/scale')), 'the scale subresource was patched');
  assert.equal(east.deployment('app', 'web')!.spec.replicas, 6, 'the source side is not touched');
});
