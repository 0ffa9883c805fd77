// Builds the Step for a configured step. `switch-traffic` is built into the controller and is
// not a Step: the parameter type excludes it, so the controller narrows before calling, and a
// call that slips past the types throws. kubernetes-scale needs `deps.kubernetes` (a logger and
// the per-cluster clients); creating one without it throws, so a composition root that forgot
// it fails at startup rather than in the middle of a failover.
import type { StepConfig } from '../../config/index.ts';
import type { Step } from '../step.ts';
import { createCnpgStep } from './cnpg.ts';
import { createExecStep, type ExecDeps } from './exec.ts';
import { createKubernetesScaleStep, type KubernetesScaleDeps } from './kubernetes-scale.ts';
import { createPostgresFenceStep } from './postgres-fence.ts';
import { createPostgresPromoteStep, type PostgresPromoteDeps } from './postgres-promote.ts';
import { createWebhookStep, type WebhookDeps } from './webhook.ts';

export type HookStepConfig = Exclude<StepConfig, { type: 'switch-traffic' }>;

export type StepDeps = ExecDeps & WebhookDeps & PostgresPromoteDeps & { kubernetes?: KubernetesScaleDeps };

export function createStep(config: HookStepConfig, deps: StepDeps): Step {
  switch (config.type) {
    case 'postgres-promote': return createPostgresPromoteStep(config, deps);
    case 'postgres-fence': return createPostgresFenceStep(config);
    case 'exec': return createExecStep(config, deps);
    case 'webhook': return createWebhookStep(config, deps);
    case 'kubernetes-scale':
      if (!deps.kubernetes) throw new Error(`step ${config.name} (kubernetes-scale) needs deps.kubernetes: pass the kubernetes clients to createStep`);
      return createKubernetesScaleStep(config, deps.kubernetes);
    case 'cnpg-demote':
    case 'cnpg-promote':
      if (!deps.kubernetes) throw new Error(`step ${config.name} (${config.type}) needs deps.kubernetes: pass the kubernetes clients to createStep`);
      return createCnpgStep(config, deps.kubernetes);
    default: throw new Error(`no step implementation for type ${(config as StepConfig).type} (switch-traffic is built into the controller)`);
  }
}
