// Builds the Steps of failover.steps. `createSteps` builds the whole list in order:
// `switch-traffic` from its switch dependency (`switch-traffic.ts`: the routing state and
// optionally awaitTraffic), every other type through `createStep`, which the composition root
// wraps with the hooks' dependencies. `createStep` itself refuses switch-traffic (the parameter
// type excludes it; a call that slips past the types throws). kubernetes-scale needs `deps.kubernetes` (a logger and
// the per-cluster clients); creating one without it throws, so a composition root that forgot
// it fails at startup rather than in the middle of a failover.
import type { StepConfig } from '../../config/index.ts';
import type { Step } from '../step.ts';
import { createCnpgStep } from './cnpg.ts';
import { createExecStep, type ExecDeps } from './exec.ts';
import { createKubernetesScaleStep, type KubernetesScaleDeps } from './kubernetes-scale.ts';
import { createPostgresFenceStep } from './postgres-fence.ts';
import { createPostgresPromoteStep, type PostgresPromoteDeps } from './postgres-promote.ts';
import { createSwitchTrafficStep, type SwitchTrafficDeps } from './switch-traffic.ts';
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
    default: throw new Error(`no step implementation for type ${(config as StepConfig).type} (switch-traffic is built by createSteps with its switch dependency)`);
  }
}

/** Every configured step, in order: switch-traffic with `deps.switch`, the others with `deps.createStep`. */
export function createSteps(configs: readonly StepConfig[], deps: { createStep: (config: HookStepConfig) => Step; switch: SwitchTrafficDeps }): Step[] {
  return configs.map((c) => (c.type === 'switch-traffic' ? createSwitchTrafficStep(c, deps.switch) : deps.createStep(c)));
}
