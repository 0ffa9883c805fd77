// createKubernetesClients against the fake API server through the real @kubernetes/client-node:
// context selection, the per-cluster cache, kubeconfig errors, /readyz, connection reuse and the
// mapping of API errors to SWY_KUBE_* codes, per-call options (signal, merge patch).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { V1MicroTime } from '@kubernetes/client-node';
import { createKubernetesClients, type KubernetesClients } from '../../../src/kubernetes.ts';
import { isSwitchyardError } from '../../../src/errors.ts';
import { startFakeKubeApi } from '../../support/fake-kube-api.ts';

const fake = await startFakeKubeApi({ token: 'secret' });
const opened: KubernetesClients[] = [];
after(async () => {
  for (const c of opened) await c.close();
  await fake.close();
});

function clients(context = 'east', token?: string): KubernetesClients {
  const c = createKubernetesClients({ kubeconfig: fake.kubeconfigPath(context, { token }), context });
  opened.push(c);
  return c;
}

const timeout = () => AbortSignal.timeout(5000);

test('clients talk to the context named in the access, not the kubeconfig current-context', async () => {
  fake.setDeployment('app', 'web', { replicas: 3 });
  const c = clients('east');
  assert.equal(c.kubeConfig.getCurrentContext(), 'east');
  assert.equal(c.server, fake.url);
  const d = await c.apps.readNamespacedDeployment({ namespace: 'app', name: 'web' }, c.requestOptions(timeout()));
  assert.equal(d.spec?.replicas, 3);
  assert.equal(d.status?.availableReplicas, 3);
  const last = fake.requests().at(-1)!;
  assert.deepEqual({ method: last.method, path: last.path }, { method: 'GET', path: '/apis/apps/v1/namespaces/app/deployments/web' });
});

test('one set of clients per kubeconfig and context when a cache is passed', () => {
  const cache = new Map<string, KubernetesClients>();
  const file = fake.kubeconfigPath('east');
  const a = createKubernetesClients({ kubeconfig: file, context: 'east' }, { cache });
  const b = createKubernetesClients({ kubeconfig: file, context: 'east' }, { cache });
  const other = createKubernetesClients({ kubeconfig: file, context: 'not-east' }, { cache });
  opened.push(a, other);
  assert.equal(a, b);
  assert.notEqual(a, other);
  assert.equal(cache.size, 2);
  assert.notEqual(createKubernetesClients({ kubeconfig: file, context: 'east' }), a, 'no cache, no sharing');
});

test('kubeconfig problems are SWY_KUBE_CONFIG errors that say what is wrong', () => {
  assert.throws(() => createKubernetesClients({ kubeconfig: '/nonexistent/kubeconfig', context: 'east' }), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_CONFIG') && /cannot load \/nonexistent\/kubeconfig/.test(err.message));
  assert.throws(() => createKubernetesClients({ kubeconfig: fake.kubeconfigPath('east'), context: 'west' }), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_CONFIG') && /has no context "west" \(it has: east, not-east\)/.test(err.message));
  const dir = mkdtempSync(join(tmpdir(), 'swy-kubeconfig-'));
  const plain = join(dir, 'plain-http.yaml');
  writeFileSync(plain, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'k', cluster: { server: fake.url } }], users: [{ name: 'u', user: { token: 'secret' } }],
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
  }));
  assert.throws(() => createKubernetesClients({ kubeconfig: plain, context: undefined }), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_CONFIG') && /insecure-skip-tls-verify/.test(err.message));
});

test('readyz: 200 resolves; 500 is SWY_KUBE_NOT_READY naming the failed check; a hang ends at the signal; a closed socket is SWY_KUBE_UNREACHABLE', async (t) => {
  const own = await startFakeKubeApi();
  t.after(() => own.close());
  const c = createKubernetesClients({ kubeconfig: own.kubeconfigPath() , context: undefined });
  t.after(() => c.close());
  await c.readyz(timeout());

  own.setReady(false);
  await assert.rejects(c.readyz(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_NOT_READY') && /answered 500: etcd failed/.test(err.message));

  own.setReady('hang');
  const started = performance.now();
  await assert.rejects(c.readyz(AbortSignal.timeout(150)), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_TIMEOUT'));
  const waited = performance.now() - started;
  assert.ok(waited >= 140 && waited < 2000, `readyz returned after ${waited} ms`);

  own.setReady('close');
  await assert.rejects(c.readyz(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_UNREACHABLE'));

  own.setReady(true);
  await c.readyz(timeout());
});

test('readyz sends the kubeconfig credentials: a wrong token is SWY_KUBE_UNAUTHORIZED', async () => {
  await clients('east').readyz(timeout());
  await assert.rejects(clients('east', 'wrong').readyz(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_UNAUTHORIZED'));
});

test('an unreachable API server is SWY_KUBE_UNREACHABLE', async () => {
  const c = createKubernetesClients({ kubeconfig: fake.kubeconfigPath('east'), context: 'not-east' });
  opened.push(c);
  await assert.rejects(c.readyz(timeout()), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_UNREACHABLE') && /ECONNREFUSED/.test(err.message));
  const err = await c.apps.readNamespacedDeployment({ namespace: 'app', name: 'web' }, c.requestOptions(timeout())).then(() => undefined, (e: unknown) => e);
  assert.equal(c.error(err, 'read').code, 'SWY_KUBE_UNREACHABLE');
});

test('API errors map to codes with the API server message', async () => {
  const c = clients('east');
  const grab = (p: Promise<unknown>) => p.then(() => assert.fail('expected a rejection'), (e: unknown) => c.error(e, 'the call'));

  const missing = await grab(c.apps.readNamespacedDeployment({ namespace: 'app', name: 'ghost' }, c.requestOptions(timeout())));
  assert.equal(missing.code, 'SWY_KUBE_NOT_FOUND');
  assert.equal(missing.message, 'the call: deployments.apps "ghost" not found (HTTP 404)');

  fake.setDeployment('app', 'web', { replicas: 1 });
  const stale = await grab(c.apps.patchNamespacedDeploymentScale({ namespace: 'app', name: 'web', body: { metadata: { resourceVersion: '1' }, spec: { replicas: 2 } } }, c.mergePatchOptions(timeout())));
  assert.equal(stale.code, 'SWY_KUBE_CONFLICT');
  assert.equal(stale.details?.status, 409);

  const exists = await grab((async () => {
    const body = { metadata: { name: 'dup' }, spec: { holderIdentity: 'x' } };
    await c.coordination.createNamespacedLease({ namespace: 'app', body }, c.requestOptions(timeout()));
    await c.coordination.createNamespacedLease({ namespace: 'app', body }, c.requestOptions(timeout()));
  })());
  assert.equal(exists.code, 'SWY_KUBE_ALREADY_EXISTS');

  const wrongType = await grab(c.apps.patchNamespacedDeploymentScale({ namespace: 'app', name: 'web', body: { spec: { replicas: 2 } } }, c.requestOptions(timeout())));
  assert.equal(wrongType.code, 'SWY_KUBE_API_ERROR', 'client-node defaults PATCH to JSON patch; an object body is a 400');

  const wrong = clients('east', 'wrong');
  const unauthorized = await grab(wrong.apps.readNamespacedDeployment({ namespace: 'app', name: 'web' }, wrong.requestOptions(timeout())));
  assert.equal(unauthorized.code, 'SWY_KUBE_UNAUTHORIZED');

  const own = await startFakeKubeApi();
  try {
    own.forbid('get', 'deployments');
    const oc = createKubernetesClients({ kubeconfig: own.kubeconfigPath(), context: undefined });
    const forbidden = await grab(oc.apps.readNamespacedDeployment({ namespace: 'app', name: 'web' }, oc.requestOptions(timeout())));
    await oc.close();
    assert.equal(forbidden.code, 'SWY_KUBE_FORBIDDEN');
    assert.match(forbidden.message, /cannot get resource "deployments" in API group "apps" in the namespace "app"/);
  } finally {
    await own.close();
  }
});

test('the merge patch Content-Type is sent when asked for', async () => {
  fake.setDeployment('app', 'web', { replicas: 1 });
  const c = clients('east');
  const scale = await c.apps.patchNamespacedDeploymentScale({ namespace: 'app', name: 'web', body: { spec: { replicas: 4 } } }, c.mergePatchOptions(timeout()));
  assert.equal(scale.spec?.replicas, 4);
  assert.equal(fake.requests().at(-1)!.contentType, 'application/merge-patch+json');
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 4);
});

test('a client set reuses its connection (client-node alone opens one per request)', async (t) => {
  const own = await startFakeKubeApi();
  t.after(() => own.close());
  own.setDeployment('app', 'web', { replicas: 1 });
  const c = createKubernetesClients({ kubeconfig: own.kubeconfigPath(), context: undefined });
  t.after(() => c.close());
  for (let i = 0; i < 20; i++) await c.apps.readNamespacedDeployment({ namespace: 'app', name: 'web' }, c.requestOptions(timeout()));
  for (let i = 0; i < 5; i++) await c.readyz(timeout());
  assert.ok(own.connections() <= 2, `25 requests used ${own.connections()} connections`);
});

test('an already aborted signal fails the call at once with SWY_KUBE_TIMEOUT and the reason', async () => {
  const signal = AbortSignal.abort(new Error('shutting down'));
  const c = clients('east');
  const err = await c.apps.readNamespacedDeployment({ namespace: 'app', name: 'web' }, c.requestOptions(signal)).then(() => undefined, (e: unknown) => c.error(e, 'read', signal));
  assert.equal(err?.code, 'SWY_KUBE_TIMEOUT');
  assert.match(err!.message, /shutting down/);
});

test('Lease times: client-node V1MicroTime is accepted, a plain Date (milliseconds) is a 400 from the API server', async () => {
  const c = clients('east');
  const lease = await c.coordination.createNamespacedLease({ namespace: 'app', body: { metadata: { name: 'micro' }, spec: { holderIdentity: 'a', acquireTime: new V1MicroTime(), renewTime: new V1MicroTime() } } }, c.requestOptions(timeout()));
  assert.match(String(lease.spec?.renewTime), /\.\d{6}Z$/);
  const err = await c.coordination.createNamespacedLease({ namespace: 'app', body: { metadata: { name: 'millis' }, spec: { renewTime: new Date() } } }, c.requestOptions(timeout()))
    .then(() => undefined, (e: unknown) => c.error(e, 'create lease'));
  assert.equal(err?.code, 'SWY_KUBE_API_ERROR');
  assert.equal(err?.details?.status, 400);
});
