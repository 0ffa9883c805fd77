// The fake Kubernetes API server keeps the semantics the tests rely on: resourceVersion
// compare-and-swap (409 Conflict), AlreadyExists, MicroTime validation, Status objects, patch
// types, RBAC and auth switches. Raw HTTP here, so the fake is checked independently of the client.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeKubeApi } from '../../support/fake-kube-api.ts';

const fake = await startFakeKubeApi({ token: 'secret', controllerDelayMs: 20 });
after(() => fake.close());

const auth = { authorization: 'Bearer secret' };
const SCALE = '/apis/apps/v1/namespaces/app/deployments/web/scale';
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/app/leases';

async function call(method: string, path: string, body?: unknown, contentType = 'application/json', headers: Record<string, string> = auth): Promise<{ status: number; body: any }> {
  const res = await fetch(fake.url + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('PUT on the scale subresource with a stale resourceVersion is a 409 Conflict Status', async () => {
  fake.setDeployment('app', 'web', { replicas: 2 });
  const read = await call('GET', SCALE);
  assert.equal(read.status, 200);
  assert.equal(read.body.kind, 'Scale');
  assert.equal(read.body.apiVersion, 'autoscaling/v1');
  assert.equal(read.body.spec.replicas, 2);
  const rv = read.body.metadata.resourceVersion;

  const put = await call('PUT', SCALE, { ...read.body, spec: { replicas: 3 } });
  assert.equal(put.status, 200);
  assert.equal(put.body.spec.replicas, 3);
  assert.ok(Number(put.body.metadata.resourceVersion) > Number(rv), 'a write bumps resourceVersion');

  const stale = await call('PUT', SCALE, { ...read.body, spec: { replicas: 5 } });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.kind, 'Status');
  assert.equal(stale.body.reason, 'Conflict');
  assert.equal(stale.body.code, 409);
  assert.match(stale.body.message, /the object has been modified/);
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 3, 'a conflicting write changes nothing');
});

test('merge, JSON and strategic merge patches of the scale subresource; a patch carrying a stale resourceVersion conflicts', async () => {
  fake.setDeployment('app', 'web', { replicas: 1 });
  assert.equal((await call('PATCH', SCALE, { spec: { replicas: 2 } }, 'application/merge-patch+json')).body.spec.replicas, 2);
  assert.equal((await call('PATCH', SCALE, [{ op: 'replace', path: '/spec/replicas', value: 3 }], 'application/json-patch+json')).body.spec.replicas, 3);
  assert.equal((await call('PATCH', SCALE, { spec: { replicas: 4 } }, 'application/strategic-merge-patch+json')).body.spec.replicas, 4);

  const objectAsJsonPatch = await call('PATCH', SCALE, { spec: { replicas: 9 } }, 'application/json-patch+json');
  assert.equal(objectAsJsonPatch.status, 400, 'an object sent as a JSON patch is rejected, as by the real API server');
  assert.equal((await call('PATCH', SCALE, { spec: { replicas: 9 } }, 'text/plain')).status, 415);

  const stale = await call('PATCH', SCALE, { metadata: { resourceVersion: '1' }, spec: { replicas: 9 } }, 'application/merge-patch+json');
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, 'Conflict');
  const invalid = await call('PATCH', SCALE, { spec: { replicas: -1 } }, 'application/merge-patch+json');
  assert.equal(invalid.status, 422);
  assert.equal(invalid.body.reason, 'Invalid');
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 4);
});

test('an unchanged write keeps the resourceVersion; a dry run changes nothing', async () => {
  fake.setDeployment('app', 'web', { replicas: 2 });
  const rv = fake.deployment('app', 'web')!.metadata.resourceVersion;
  assert.equal((await call('PATCH', SCALE, { spec: { replicas: 2 } }, 'application/merge-patch+json')).body.metadata.resourceVersion, rv);
  const dry = await call('PATCH', `${SCALE}?dryRun=All`, { spec: { replicas: 7 } }, 'application/merge-patch+json');
  assert.equal(dry.status, 200);
  assert.equal(dry.body.spec.replicas, 7);
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 2);
  assert.equal(fake.deployment('app', 'web')!.metadata.resourceVersion, rv);
});

test('spec.replicas propagates to status after the controller delay, capped by maxAvailable', async () => {
  fake.setDeployment('app', 'web', { replicas: 1, maxAvailable: 3 });
  await call('PATCH', SCALE, { spec: { replicas: 5 } }, 'application/merge-patch+json');
  assert.equal(fake.deployment('app', 'web')!.status.availableReplicas, 1, 'not at once');
  await until('the rollout', () => fake.deployment('app', 'web')!.status.replicas === 5);
  const d = fake.deployment('app', 'web')!;
  assert.equal(d.status.availableReplicas, 3);
  assert.equal(d.status.readyReplicas, 3);
  assert.equal(d.status.observedGeneration, d.metadata.generation);
});

test('HPA: merge patch of minReplicas, validation against maxReplicas, and the HPA controller raising its Deployment', async () => {
  fake.setDeployment('app', 'api', { replicas: 2 });
  fake.setHpa('app', 'api', { minReplicas: 2, maxReplicas: 4 });
  const path = '/apis/autoscaling/v2/namespaces/app/horizontalpodautoscalers/api';
  const tooHigh = await call('PATCH', path, { spec: { minReplicas: 6 } }, 'application/merge-patch+json');
  assert.equal(tooHigh.status, 422);
  assert.match(tooHigh.body.message, /maxReplicas/);
  const ok = await call('PATCH', path, { spec: { minReplicas: 6, maxReplicas: 6 } }, 'application/merge-patch+json');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.spec.minReplicas, 6);
  await until('the HPA controller', () => fake.deployment('app', 'api')!.status.availableReplicas === 6);
  const stale = await call('PATCH', path, { metadata: { resourceVersion: '1' }, spec: { minReplicas: 5 } }, 'application/merge-patch+json');
  assert.equal(stale.status, 409);
});

test('404 NotFound Status objects for missing objects and unknown routes', async () => {
  const missing = await call('GET', '/apis/apps/v1/namespaces/nowhere/deployments/ghost');
  assert.equal(missing.status, 404);
  assert.deepEqual({ kind: missing.body.kind, reason: missing.body.reason, code: missing.body.code }, { kind: 'Status', reason: 'NotFound', code: 404 });
  assert.equal(missing.body.message, 'deployments.apps "ghost" not found');
  assert.equal((await call('GET', '/apis/apps/v1/namespaces/app/deployments/ghost/scale')).status, 404);
  assert.equal((await call('GET', '/apis/example.com/v1/namespaces/app/widgets/x')).status, 404);
  const ns = await call('POST', '/apis/coordination.k8s.io/v1/namespaces/nowhere/leases', { metadata: { name: 'l' }, spec: {} });
  assert.equal(ns.status, 404);
  assert.equal(ns.body.message, 'namespaces "nowhere" not found');
});

test('Leases: create, AlreadyExists, replace with resourceVersion CAS, MicroTime validation', async () => {
  const micro = '2026-11-21T05:00:00.123456Z';
  const created = await call('POST', LEASES, { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: micro, renewTime: micro } });
  assert.equal(created.status, 201);
  assert.equal(created.body.spec.holderIdentity, 'a');
  const rv = created.body.metadata.resourceVersion;
  assert.match(rv, /^\d+$/);

  const again = await call('POST', LEASES, { metadata: { name: 'leader' }, spec: {} });
  assert.equal(again.status, 409);
  assert.equal(again.body.reason, 'AlreadyExists');

  const millis = await call('PUT', `${LEASES}/leader`, { metadata: { name: 'leader', resourceVersion: rv }, spec: { holderIdentity: 'b', renewTime: '2026-11-21T05:00:01.123Z' } });
  assert.equal(millis.status, 400, 'a Date with milliseconds is not a MicroTime');
  assert.equal(millis.body.reason, 'BadRequest');
  assert.equal((await call('POST', LEASES, { metadata: { name: 'other' }, spec: { acquireTime: '2026-11-21T05:00:00Z' } })).status, 400);

  const renewed = await call('PUT', `${LEASES}/leader`, { metadata: { name: 'leader', resourceVersion: rv }, spec: { holderIdentity: 'b', renewTime: '2026-11-21T05:00:01.000000Z' } });
  assert.equal(renewed.status, 200);
  assert.notEqual(renewed.body.metadata.resourceVersion, rv);

  const lost = await call('PUT', `${LEASES}/leader`, { metadata: { name: 'leader', resourceVersion: rv }, spec: { holderIdentity: 'c' } });
  assert.equal(lost.status, 409);
  assert.equal(lost.body.reason, 'Conflict');
  const unconditional = await call('PUT', `${LEASES}/leader`, { metadata: { name: 'leader' }, spec: { holderIdentity: 'c' } });
  assert.equal(unconditional.status, 422, 'leases do not allow unconditional updates');
  assert.equal(fake.lease('app', 'leader')!.spec.holderIdentity, 'b');
  assert.equal((await call('GET', `${LEASES}/leader`)).body.spec.renewTime, '2026-11-21T05:00:01.000000Z');
});

test('raceNextWrites makes the next write of an object conflict on its read resourceVersion', async () => {
  fake.setDeployment('app', 'race', { replicas: 1 });
  const path = '/apis/apps/v1/namespaces/app/deployments/race/scale';
  const read = await call('GET', path);
  fake.raceNextWrites('app', 'deployments', 'race', 1);
  assert.equal((await call('PUT', path, { ...read.body, spec: { replicas: 2 } })).status, 409);
  const reread = await call('GET', path);
  assert.equal((await call('PUT', path, { ...reread.body, spec: { replicas: 2 } })).status, 200);
});

test('EndpointSlices are listed by the service-name label selector', async () => {
  const big = await startFakeKubeApi({ endpointsPerSlice: 2 });
  try {
    big.setEndpoints('app', 'web', 3, 2);
    big.setEndpoints('app', 'other', 1, 0);
    const res = await fetch(`${big.url}/apis/discovery.k8s.io/v1/namespaces/app/endpointslices?labelSelector=${encodeURIComponent('kubernetes.io/service-name=web')}`);
    const list = await res.json() as { kind: string; items: Array<{ endpoints: Array<{ conditions: { ready: boolean } }> }> };
    assert.equal(list.kind, 'EndpointSliceList');
    assert.equal(list.items.length, 3);
    const conditions = list.items.flatMap((s) => s.endpoints.map((e) => e.conditions.ready));
    assert.deepEqual(conditions.sort(), [false, false, true, true, true]);
  } finally {
    await big.close();
  }
});

test('auth and RBAC switches: 401 for a wrong token, 403 for anonymous and for forbidden verbs', async () => {
  fake.setDeployment('app', 'web', { replicas: 1 });
  const wrong = await call('GET', SCALE, undefined, 'application/json', { authorization: 'Bearer nope' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.reason, 'Unauthorized');
  const anonymous = await call('GET', SCALE, undefined, 'application/json', {});
  assert.equal(anonymous.status, 403);
  assert.equal((await call('GET', '/readyz', undefined, 'application/json', {})).status, 200, '/readyz is public');

  fake.forbid('patch', 'deployments/scale');
  assert.equal((await call('GET', SCALE)).status, 200);
  const denied = await call('PATCH', SCALE, { spec: { replicas: 2 } }, 'application/merge-patch+json');
  assert.equal(denied.status, 403);
  assert.equal(denied.body.reason, 'Forbidden');
  assert.match(denied.body.message, /cannot patch resource "deployments\/scale" in API group "apps" in the namespace "app"/);
});

test('readyz toggles between 200, 500, a hang and a closed socket', async () => {
  const own = await startFakeKubeApi();
  try {
    assert.equal((await fetch(`${own.url}/readyz`)).status, 200);
    own.setReady(false);
    const down = await fetch(`${own.url}/readyz`);
    assert.equal(down.status, 500);
    assert.match(await down.text(), /\[-\]etcd failed/);
    own.setReady('hang');
    await assert.rejects(fetch(`${own.url}/readyz`, { signal: AbortSignal.timeout(100) }), { name: 'TimeoutError' });
    own.setReady('close');
    await assert.rejects(fetch(`${own.url}/readyz`, { signal: AbortSignal.timeout(2000) }), TypeError);
    const paths = own.requests().map((r) => r.path);
    assert.deepEqual(paths, ['/readyz', '/readyz', '/readyz', '/readyz']);
  } finally {
    await own.close();
  }
});
