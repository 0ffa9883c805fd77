import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { ClusterConfig, ProbeConfig } from '../../../../src/config/index.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import { createHealthMonitor } from '../../../../src/health/index.ts';
import { createProbe } from '../../../../src/health/probes/index.ts';
import type { KubernetesClients } from '../../../../src/kubernetes.ts';
import { createLogger } from '../../../../src/log.ts';

const kube: ProbeConfig = { kind: 'kubernetes', name: 'kubernetes readyz', check: { type: 'readyz' }, timeout: undefined };
const cluster = (probes: ProbeConfig[], kubernetes: ClusterConfig['kubernetes']): ClusterConfig => ({
  name: 'east', addresses: ['127.0.0.2'], upstream: undefined, hostHeader: undefined, probes, healthyWhen: { mode: 'all' }, kubernetes, database: undefined,
});

test('createProbe builds the probe of each kind; a kubernetes probe uses its cluster\'s clients', async () => {
  const asked: string[] = [];
  let readyzCalls = 0;
  const clients = { server: 'http://127.0.0.1:1', readyz: async () => void readyzCalls++ } as unknown as KubernetesClients;
  const east = cluster([kube], { kubeconfig: '/tmp/east.kubeconfig', context: 'east' });
  const deps = { kubernetesClients: (c: ClusterConfig) => (asked.push(c.name), clients) };
  const probe = createProbe(east, kube, deps);
  assert.equal(probe.name, 'kubernetes readyz');
  await probe.check(AbortSignal.timeout(1000));
  assert.deepEqual([asked, readyzCalls], [['east'], 1]);
  const tcp = createProbe(east, { kind: 'tcp', name: 'tcp 127.0.0.2:1', host: '127.0.0.2', port: 1, timeout: undefined }, deps);
  await assert.rejects(tcp.check(AbortSignal.timeout(1000)), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  const http = createProbe(east, { kind: 'http', name: 'h', url: 'http://127.0.0.2:1/', method: 'GET', expectStatus: [200], bodyContains: undefined, host: undefined, sni: undefined, headers: {}, ca: undefined, insecureSkipVerify: false, timeout: undefined }, deps);
  await assert.rejects(http.check(AbortSignal.timeout(1000)), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  await http.close?.();
  assert.deepEqual(asked, ['east'], 'only kubernetes probes ask for clients');
});

test('a kubernetes probe on a cluster without kubernetes settings is a config error naming the key', () => {
  const logger = createLogger({ level: 'silent' });
  assert.throws(
    () => createHealthMonitor({ clusters: [cluster([kube], undefined)], health: { interval: 1000, timeout: 500, fall: 3, rise: 2, jitter: 0, confirmInterval: 200 } }, { logger, registry: new Registry() }),
    (err) => isSwitchyardError(err, 'SWY_CONFIG_INVALID') && err.message.startsWith('clusters[0].kubernetes is required'),
  );
});

test('the monitor gets a kubernetes probe\'s clients from deps.kubernetesClientsFor, and without it refuses to start', async () => {
  const logger = createLogger({ level: 'silent' });
  const health = { interval: 1000, timeout: 500, fall: 3, rise: 2, jitter: 0, confirmInterval: 200 };
  const east = cluster([kube], { kubeconfig: '/tmp/east.kubeconfig', context: 'east' });
  assert.throws(
    () => createHealthMonitor({ clusters: [east], health }, { logger, registry: new Registry() }),
    (err) => !isSwitchyardError(err) && err instanceof Error && err.message === 'cluster east has a kubernetes probe: pass deps.kubernetesClientsFor to createHealthMonitor',
  );
  const asked: string[] = [];
  const clients = { server: 'http://127.0.0.1:1', readyz: async () => {} } as unknown as KubernetesClients;
  const monitor = createHealthMonitor({ clusters: [east], health }, { logger, registry: new Registry(), kubernetesClientsFor: (c) => (asked.push(c.name), clients) });
  await monitor.stop();
  assert.deepEqual(asked, ['east']);
  const http = cluster([{ kind: 'tcp', name: 'tcp 127.0.0.2:1', host: '127.0.0.2', port: 1, timeout: undefined }], undefined);
  await createHealthMonitor({ clusters: [http], health }, { logger, registry: new Registry() }).stop();
});
