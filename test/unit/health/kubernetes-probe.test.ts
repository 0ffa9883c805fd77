// The kubernetes probe against the fake API server through the real client-node: readyz up,
// down and hanging (ended by the signal), a Deployment's available replicas, a Service's ready
// endpoints across EndpointSlices, and API errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { KubernetesProbeConfig } from '../../../src/config/index.ts';
import { isSwitchyardError } from '../../../src/errors.ts';
import { createKubernetesClients } from '../../../src/kubernetes.ts';
import { countReadyEndpoints, createKubernetesProbe } from '../../../src/health/probes/kubernetes.ts';
import { startFakeKubeApi } from '../../support/fake-kube-api.ts';

const fake = await startFakeKubeApi({ token: 'secret', endpointsPerSlice: 2 });
const clients = createKubernetesClients({ kubeconfig: fake.kubeconfigPath('east'), context: 'east' });
after(async () => {
  await clients.close();
  await fake.close();
});

function probe(check: KubernetesProbeConfig['check']) {
  return createKubernetesProbe({ kind: 'kubernetes', name: `kubernetes ${check.type}`, check, timeout: undefined }, { clients });
}

const timeout = () => AbortSignal.timeout(5000);

test('readyz: passes on 200, fails on 500 with the failed check, fails at the timeout when the API server hangs', async () => {
  const p = probe({ type: 'readyz' });
  assert.equal(p.name, 'kubernetes readyz');
  await p.check(timeout());

  fake.setReady(false);
  await assert.rejects(p.check(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_NOT_READY') && /500: etcd failed/.test(err.message));

  fake.setReady('hang');
  const started = performance.now();
  await assert.rejects(p.check(AbortSignal.timeout(100)), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_TIMEOUT'));
  assert.ok(performance.now() - started < 2000, 'the hang ended at the signal');

  fake.setReady('close');
  await assert.rejects(p.check(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_UNREACHABLE'));
  fake.setReady(true);
  await p.check(timeout());
});

test('deployment: passes with availableReplicas >= minAvailable, fails below with a message that says why', async () => {
  const p = probe({ type: 'deployment', namespace: 'app', name: 'web', minAvailable: 2 });
  fake.setDeployment('app', 'web', { replicas: 3, availableReplicas: 2 });
  await p.check(timeout());

  fake.setDeployment('app', 'web', { replicas: 3, availableReplicas: 1 });
  await assert.rejects(p.check(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_HEALTH_KUBE_DEPLOYMENT_UNAVAILABLE')
    && err.message === 'deployment app/web has 1 available replica of 3, needs 2'
    && err.details?.available === 1);

  fake.setDeployment('app', 'web', { replicas: 3, availableReplicas: 0 });
  await assert.rejects(p.check(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_HEALTH_KUBE_DEPLOYMENT_UNAVAILABLE')
    && err.message === 'deployment app/web has 0 available replicas of 3, needs 2');
});

test('deployment: a missing Deployment and a forbidden read fail with their codes', async () => {
  await assert.rejects(probe({ type: 'deployment', namespace: 'app', name: 'ghost', minAvailable: 1 }).check(timeout()),
    (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_NOT_FOUND') && /deployments.apps "ghost" not found/.test(err.message));
  const own = await startFakeKubeApi();
  const oc = createKubernetesClients({ kubeconfig: own.kubeconfigPath(), context: undefined });
  try {
    own.setDeployment('app', 'web', { replicas: 1 });
    own.forbid('get', 'deployments');
    const p = createKubernetesProbe({ kind: 'kubernetes', name: 'k', check: { type: 'deployment', namespace: 'app', name: 'web', minAvailable: 1 }, timeout: undefined }, { clients: oc });
    await assert.rejects(p.check(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_FORBIDDEN'));
  } finally {
    await oc.close();
    await own.close();
  }
});

test('endpointslice: counts ready endpoints across all the Service\'s slices', async () => {
  const p = probe({ type: 'endpointslice', namespace: 'app', service: 'web', minReady: 3 });
  fake.setEndpoints('app', 'web', 3, 2);
  fake.setEndpoints('app', 'other', 5, 0);
  await p.check(timeout());
  const listed = fake.requests().at(-1)!;
  assert.equal(listed.path, `/apis/discovery.k8s.io/v1/namespaces/app/endpointslices?labelSelector=${encodeURIComponent('kubernetes.io/service-name=web')}`);

  fake.setEndpoints('app', 'web', 2, 3);
  await assert.rejects(p.check(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_HEALTH_KUBE_ENDPOINTS_NOT_READY')
    && err.message === 'service app/web has 2 ready endpoints across 3 EndpointSlices, needs 3');

  await assert.rejects(probe({ type: 'endpointslice', namespace: 'app', service: 'ghost', minReady: 1 }).check(timeout()),
    (err: unknown) => isSwitchyardError(err, 'SWY_HEALTH_KUBE_ENDPOINTS_NOT_READY') && /has no EndpointSlices/.test(err.message));
});

test('countReadyEndpoints: nil ready counts as ready, false does not, a Pod in two slices counts once', () => {
  const pod = (name: string) => ({ kind: 'Pod', namespace: 'app', name });
  const slices = [
    { addressType: 'IPv4', endpoints: [
      { addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: pod('a') },
      { addresses: ['10.0.0.2'], conditions: {}, targetRef: pod('b') },
      { addresses: ['10.0.0.3'], conditions: { ready: false }, targetRef: pod('c') },
    ] },
    { addressType: 'IPv6', endpoints: [
      { addresses: ['fd00::1'], conditions: { ready: true }, targetRef: pod('a') },
      { addresses: ['fd00::9'], conditions: { ready: true } },
    ] },
    { addressType: 'IPv4' },
  ] as V1EndpointSlice[];
  assert.equal(countReadyEndpoints(slices), 3);
  assert.equal(countReadyEndpoints([]), 0);
});
