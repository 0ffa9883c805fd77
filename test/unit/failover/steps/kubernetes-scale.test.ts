// The kubernetes-scale step against the fake API server through the real client-node: scale and
// wait, prechecks that block on 403/404, 409 Conflict retried by re-reading, never a scale-down,
// HPA minReplicas (and maxReplicas), and a wait that ends with the step's signal.
import { test, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterConfig } from '../../../../src/config/index.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import type { StepContext } from '../../../../src/failover/step.ts';
import { createKubernetesScaleStep, MAX_ATTEMPTS, type KubernetesScaleConfig } from '../../../../src/failover/steps/kubernetes-scale.ts';
import { createKubernetesClients, type KubernetesClients } from '../../../../src/kubernetes.ts';
import { createLogger } from '../../../../src/log.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../../../support/fake-kube-api.ts';

const opened: Array<{ fake: FakeKubeApi; clients: KubernetesClients }> = [];
after(async () => {
  for (const { fake, clients } of opened) {
    await clients.close();
    await fake.close();
  }
});

let lines: Array<{ msg: string }> = [];
beforeEach(() => { lines = []; });
const logger = createLogger({ level: 'info', destination: { write: (s: string) => { lines.push(JSON.parse(s) as { msg: string }); } } });

function cluster(name: string, kubeconfig: string | undefined): ClusterConfig {
  return {
    name, addresses: ['127.0.0.3'], upstream: undefined, hostHeader: undefined, probes: [], healthyWhen: { mode: 'all' },
    kubernetes: kubeconfig === undefined ? undefined : { kubeconfig, context: name }, database: undefined,
  };
}

async function setup(options: { forbid?: Array<['get' | 'patch', string]> } = {}) {
  const fake = await startFakeKubeApi({ token: 'secret', controllerDelayMs: 30 });
  for (const [verb, resource] of options.forbid ?? []) fake.forbid(verb, resource);
  const target = cluster('west', fake.kubeconfigPath('west'));
  const clients = createKubernetesClients(target.kubernetes!);
  opened.push({ fake, clients });
  const asked: string[] = [];
  const clientsFor = (c: ClusterConfig) => {
    asked.push(c.name);
    return clients;
  };
  return { fake, target, clientsFor, asked };
}

function config(overrides: Partial<KubernetesScaleConfig> = {}): KubernetesScaleConfig {
  return {
    type: 'kubernetes-scale', name: 'scale-up', timeout: 10_000, retries: 2, backoff: 1000, onFailure: 'hold',
    namespace: 'app', deployments: ['web'], hpas: [], replicas: 4, wait: false, ...overrides,
  };
}

function context(target: ClusterConfig, signal: AbortSignal = AbortSignal.timeout(10_000)): StepContext {
  return {
    epoch: 7, kind: 'failover', source: cluster('east', undefined), target, reason: 'test', forced: false,
    idempotencyKey: 'switchyard:7:scale-up', attempt: 1, signal, logger, journal: [],
  };
}

const writes = (fake: FakeKubeApi) => fake.requests().filter((r) => r.method !== 'GET' && !r.path.includes('dryRun'));

test('scales the target cluster\'s Deployment through the scale subresource and waits for available replicas', async () => {
  const { fake, target, clientsFor, asked } = await setup();
  fake.setDeployment('app', 'web', { replicas: 2 });
  const step = createKubernetesScaleStep(config({ wait: true }), { logger, clientsFor, pollIntervalMs: 20 });
  const out = await step.run(context(target));
  assert.deepEqual(asked, ['west']);
  assert.match(out?.detail ?? '', /^west: deployment app\/web 2→4; available app\/web 4\/4 after \d+\.\ds$/);
  const d = fake.deployment('app', 'web')!;
  assert.equal(d.spec.replicas, 4);
  assert.equal(d.status.availableReplicas, 4);
  const w = writes(fake);
  assert.equal(w.length, 1);
  assert.deepEqual(w[0], { method: 'PATCH', path: '/apis/apps/v1/namespaces/app/deployments/web/scale', contentType: 'application/merge-patch+json' });
  assert.ok(lines.some((l) => l.msg === 'raised deployment app/web from 2 to 4 in cluster west'));
});

test('without wait the step returns once the replicas are set', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'web', { replicas: 1 });
  const out = await createKubernetesScaleStep(config(), { logger, clientsFor, pollIntervalMs: 20 }).run(context(target));
  assert.equal(out?.detail, 'west: deployment app/web 1→4');
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 4);
  assert.equal(fake.deployment('app', 'web')!.status.availableReplicas, 1, 'did not wait for the rollout');
});

test('never scales down: a Deployment already at or above the target is left as is, with no write', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'web', { replicas: 8 });
  fake.setDeployment('app', 'api', { replicas: 4 });
  const step = createKubernetesScaleStep(config({ deployments: ['web', 'api'] }), { logger, clientsFor, pollIntervalMs: 20 });
  const out = await step.run(context(target));
  assert.equal(out?.detail, 'west: deployment app/web already 8 (≥ 4), left as is; deployment app/api already 4 (≥ 4), left as is');
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 8);
  assert.deepEqual(writes(fake), []);
  assert.ok(lines.some((l) => /already 8 \(at least 4\); left as is, never scaled down/.test(l.msg)));
});

test('running again after success changes nothing (idempotent)', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'web', { replicas: 2 });
  const step = createKubernetesScaleStep(config(), { logger, clientsFor, pollIntervalMs: 20 });
  await step.run(context(target));
  const rv = fake.deployment('app', 'web')!.metadata.resourceVersion;
  const again = await step.run(context(target));
  assert.match(again?.detail ?? '', /already 4/);
  assert.equal(writes(fake).length, 1);
  assert.equal(fake.deployment('app', 'web')!.metadata.resourceVersion, rv);
});

test('a 409 Conflict is retried by re-reading, then succeeds', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'web', { replicas: 2 });
  fake.raceNextWrites('app', 'deployments', 'web', 1);
  const out = await createKubernetesScaleStep(config(), { logger, clientsFor, pollIntervalMs: 20 }).run(context(target));
  assert.equal(out?.detail, 'west: deployment app/web 2→4');
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 4);
  const scaleCalls = fake.requests().filter((r) => r.path.endsWith('/deployments/web/scale')).map((r) => r.method);
  assert.deepEqual(scaleCalls, ['GET', 'PATCH', 'GET', 'PATCH']);
  assert.ok(lines.some((l) => /changed while being raised \(409 Conflict\); reading it again/.test(l.msg)));
});

test('a conflict that persists fails with SWY_KUBE_CONFLICT after MAX_ATTEMPTS writes', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'web', { replicas: 2 });
  fake.raceNextWrites('app', 'deployments', 'web', 10);
  await assert.rejects(createKubernetesScaleStep(config(), { logger, clientsFor, pollIntervalMs: 20 }).run(context(target)),
    (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_CONFLICT') && /in cluster west/.test(err.message));
  assert.equal(writes(fake).length, MAX_ATTEMPTS);
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 2);
});

test('precheck: reads each object and dry-runs the patch, changing nothing', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'web', { replicas: 2 });
  fake.setHpa('app', 'web', { minReplicas: 5, maxReplicas: 10 });
  const step = createKubernetesScaleStep(config({ hpas: ['web'] }), { logger, clientsFor, pollIntervalMs: 20 });
  const out = await step.precheck!(context(target));
  assert.equal(out?.detail, 'west: deployment app/web 2→4; hpa app/web minReplicas already 5');
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 2);
  assert.deepEqual(writes(fake), []);
  assert.equal(fake.requests().filter((r) => r.path.includes('dryRun=All')).length, 2);
});

test('precheck: a 403 on the patch blocks with SWY_KUBE_FORBIDDEN before anything moves', async () => {
  const { fake, target, clientsFor } = await setup({ forbid: [['patch', 'deployments/scale']] });
  fake.setDeployment('app', 'web', { replicas: 2 });
  const step = createKubernetesScaleStep(config(), { logger, clientsFor, pollIntervalMs: 20 });
  await assert.rejects(step.precheck!(context(target)), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_FORBIDDEN')
    && /dry-run patch deployment app\/web \(scale\) in cluster west: .*cannot patch resource "deployments\/scale"/.test(err.message));
  await assert.rejects(step.run(context(target)), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_FORBIDDEN'));
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 2);
});

test('precheck and run: a missing Deployment is SWY_KUBE_NOT_FOUND naming it', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'web', { replicas: 2 });
  const step = createKubernetesScaleStep(config({ deployments: ['web', 'ghost'] }), { logger, clientsFor, pollIntervalMs: 20 });
  const named = (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_NOT_FOUND') && /read deployment app\/ghost \(scale\) in cluster west: deployments.apps "ghost" not found/.test(err.message);
  await assert.rejects(step.precheck!(context(target)), named);
  assert.deepEqual(writes(fake), []);
  await assert.rejects(step.run(context(target)), named);
});

test('HPA: raises minReplicas (and maxReplicas when below), then waits for the Deployment the HPA scales', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'api', { replicas: 2 });
  fake.setHpa('app', 'api-hpa', { minReplicas: 2, maxReplicas: 4, target: 'api' });
  const step = createKubernetesScaleStep(config({ deployments: [], hpas: ['api-hpa'], replicas: 6, wait: true }), { logger, clientsFor, pollIntervalMs: 20 });
  const out = await step.run(context(target));
  assert.match(out?.detail ?? '', /^west: hpa app\/api-hpa minReplicas 2→6; available app\/api 6\/6 after/);
  const h = fake.hpa('app', 'api-hpa')!;
  assert.equal(h.spec.minReplicas, 6);
  assert.equal(h.spec.maxReplicas, 6);
  assert.equal(fake.deployment('app', 'api')!.status.availableReplicas, 6);

  fake.setHpa('app', 'api-hpa', { minReplicas: 3, maxReplicas: 10, target: 'api' });
  const rv = fake.hpa('app', 'api-hpa')!.metadata.resourceVersion;
  const again = await createKubernetesScaleStep(config({ deployments: [], hpas: ['api-hpa'], replicas: 5 }), { logger, clientsFor, pollIntervalMs: 20 }).run(context(target));
  assert.equal(again?.detail, 'west: hpa app/api-hpa minReplicas 3→5');
  assert.equal(fake.hpa('app', 'api-hpa')!.spec.maxReplicas, 10, 'maxReplicas above the target is kept');
  assert.notEqual(fake.hpa('app', 'api-hpa')!.metadata.resourceVersion, rv);
});

test('wait ends with the step\'s signal: SWY_FAILOVER_KUBE_NOT_AVAILABLE with the progress so far', async () => {
  const { fake, target, clientsFor } = await setup();
  fake.setDeployment('app', 'web', { replicas: 1, maxAvailable: 2 });
  const step = createKubernetesScaleStep(config({ wait: true }), { logger, clientsFor, pollIntervalMs: 20 });
  const started = performance.now();
  await assert.rejects(step.run(context(target, AbortSignal.timeout(400))), (err: unknown) => isSwitchyardError(err, 'SWY_FAILOVER_KUBE_NOT_AVAILABLE')
    && err.message === 'deployments in cluster west did not reach 4 available replicas before the step ended: app/web 2/4');
  const waited = performance.now() - started;
  assert.ok(waited >= 390 && waited < 3000, `returned after ${waited} ms`);
  assert.equal(fake.deployment('app', 'web')!.spec.replicas, 4, 'the scale-up itself was done');
});

test('a target cluster without kubernetes settings is SWY_KUBE_CONFIG', async () => {
  const { clientsFor, asked } = await setup();
  const step = createKubernetesScaleStep(config(), { logger, clientsFor, pollIntervalMs: 20 });
  await assert.rejects(step.precheck!(context(cluster('bare', undefined))), (err: unknown) => isSwitchyardError(err, 'SWY_KUBE_CONFIG') && /cluster bare has no kubernetes settings/.test(err.message));
  assert.deepEqual(asked, []);
});
