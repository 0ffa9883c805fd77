import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStep, type HookStepConfig } from '../../../../src/failover/steps/index.ts';
import type { StepConfig } from '../../../../src/config/index.ts';
import type { KubernetesClients } from '../../../../src/kubernetes.ts';
import { captureLogger } from '../../../support/step-context.ts';

const common = { timeout: 1000, retries: 0, backoff: 0, onFailure: 'hold' as const };
const configs: HookStepConfig[] = [
  { ...common, name: 'promote', type: 'postgres-promote', maxLagBytes: 1, maxLagSeconds: undefined, maxRecordAge: 30_000 },
  { ...common, name: 'fence', type: 'postgres-fence', mode: 'nologin', terminateSessions: true },
  { ...common, name: 'hook', type: 'exec', command: ['/bin/true'], env: {} },
  { ...common, name: 'notify', type: 'webhook', url: 'http://127.0.0.1:9/x', secret: undefined, format: 'json', routingKey: undefined, headers: {} },
  { ...common, name: 'scale', type: 'kubernetes-scale', namespace: 'app', deployments: ['web'], hpas: [], replicas: 2, wait: false },
];

test('createStep builds each hook type around its own config', () => {
  const kubernetes = { logger: captureLogger().logger, clientsFor: (): KubernetesClients => { throw new Error('not called'); } };
  for (const config of configs) {
    const step = createStep(config, { env: {}, kubernetes });
    assert.equal(step.config, config, config.type);
    assert.equal(typeof step.run, 'function');
  }
});

test('createStep refuses switch-traffic (createSteps builds it) and kubernetes-scale without clients', () => {
  const switchTraffic = { ...common, name: 'switch-traffic', type: 'switch-traffic' } as StepConfig;
  assert.throws(() => createStep(switchTraffic as HookStepConfig, { env: {} }), /switch-traffic is built by createSteps/);
  assert.throws(() => createStep(configs[4], { env: {} }), /needs deps\.kubernetes/);
});
