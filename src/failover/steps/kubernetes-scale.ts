// kubernetes-scale: raises the named Deployments' replicas (through the scale subresource) and
// the named HPAs' minReplicas to `replicas` in the target cluster, and optionally waits until
// the Deployments have that many available replicas.
//
// Idempotent and never a scale-down: each object is read first and left alone when it already
// has at least `replicas` (a cluster scaled further by hand or by its HPA stays as it is). The
// write is a merge patch that carries the resourceVersion it was decided on, so a concurrent
// change gives 409 Conflict instead of being overwritten; the object is then re-read and decided
// again, at most MAX_ATTEMPTS times. precheck reads every object and sends the same patch as a
// server-side dry run, so a missing object (404) or a missing RBAC grant (403) blocks the
// failover before anything moves.
import { setTimeout as sleep } from 'node:timers/promises';
import type { StepConfig } from '../../config/index.ts';
import { SwitchyardError } from '../../errors.ts';
import type { KubernetesClients, KubernetesClientsFor } from '../../kubernetes.ts';
import type { Logger } from '../../log.ts';
import type { Step, StepContext } from '../step.ts';

export type KubernetesScaleConfig = Extract<StepConfig, { type: 'kubernetes-scale' }>;

export interface KubernetesScaleDeps {
  logger: Logger;
  clientsFor: KubernetesClientsFor;
  /** Interval between availability polls when `wait` is set; default 1000 ms. */
  pollIntervalMs?: number;
}

/** A write that meets 409 Conflict is re-read and retried, up to this many writes in all. */
export const MAX_ATTEMPTS = 3;

interface Target { kind: 'deployment' | 'hpa'; name: string }

export function createKubernetesScaleStep(config: KubernetesScaleConfig, deps: KubernetesScaleDeps): Step {
  const ns = config.namespace;
  const want = config.replicas;
  const pollInterval = deps.pollIntervalMs ?? 1000;
  const targets: Target[] = [
    ...config.deployments.map((name): Target => ({ kind: 'deployment', name })),
    ...config.hpas.map((name): Target => ({ kind: 'hpa', name })),
  ];

  function clientsOf(ctx: StepContext): KubernetesClients {
    if (!ctx.target.kubernetes) {
      throw new SwitchyardError('SWY_KUBE_CONFIG', `cluster ${ctx.target.name} has no kubernetes settings; step ${config.name} needs them`, { cluster: ctx.target.name, step: config.name });
    }
    return deps.clientsFor(ctx.target);
  }

  async function call<T>(c: KubernetesClients, ctx: StepContext, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw c.error(err, `${what} in cluster ${ctx.target.name}`, ctx.signal);
    }
  }

  /** Current value, the resourceVersion it was read at, and the merge patch that raises it (none when already high enough). */
  async function plan(c: KubernetesClients, ctx: StepContext, t: Target): Promise<{ current: number; patch: Record<string, unknown> | undefined; scaleTarget?: string; label: string }> {
    const opts = c.requestOptions(ctx.signal);
    if (t.kind === 'deployment') {
      const scale = await call(c, ctx, `read deployment ${ns}/${t.name} (scale)`, () => c.apps.readNamespacedDeploymentScale({ namespace: ns, name: t.name }, opts));
      const current = scale.spec?.replicas ?? 0;
      const label = `deployment ${ns}/${t.name}`;
      if (current >= want) return { current, patch: undefined, label };
      return { current, label, patch: { metadata: { resourceVersion: scale.metadata?.resourceVersion }, spec: { replicas: want } } };
    }
    const hpa = await call(c, ctx, `read hpa ${ns}/${t.name}`, () => c.autoscaling.readNamespacedHorizontalPodAutoscaler({ namespace: ns, name: t.name }, opts));
    const ref = hpa.spec?.scaleTargetRef;
    const scaleTarget = ref?.kind === 'Deployment' && (ref.apiVersion ?? 'apps/v1').startsWith('apps/') ? ref.name : undefined;
    const current = hpa.spec?.minReplicas ?? 1;
    const max = hpa.spec?.maxReplicas ?? 0;
    const label = `hpa ${ns}/${t.name} minReplicas`;
    if (current >= want) return { current, patch: undefined, scaleTarget, label };
    const spec = max < want ? { minReplicas: want, maxReplicas: want } : { minReplicas: want };
    return { current, scaleTarget, label, patch: { metadata: { resourceVersion: hpa.metadata?.resourceVersion }, spec } };
  }

  function patch(c: KubernetesClients, ctx: StepContext, t: Target, body: Record<string, unknown>, dryRun: boolean): Promise<unknown> {
    const opts = c.mergePatchOptions(ctx.signal);
    const what = `${dryRun ? 'dry-run patch' : 'patch'} ${t.kind === 'deployment' ? `deployment ${ns}/${t.name} (scale)` : `hpa ${ns}/${t.name}`}`;
    const dry = dryRun ? { dryRun: 'All' } : {};
    return call<unknown>(c, ctx, what, () => t.kind === 'deployment'
      ? c.apps.patchNamespacedDeploymentScale({ namespace: ns, name: t.name, body, ...dry }, opts)
      : c.autoscaling.patchNamespacedHorizontalPodAutoscaler({ namespace: ns, name: t.name, body, ...dry }, opts));
  }

  /** Raises one object; returns what it did and, for an HPA, the Deployment it scales. */
  async function raise(c: KubernetesClients, ctx: StepContext, t: Target, log: Logger): Promise<{ detail: string; scaleTarget?: string }> {
    for (let attempt = 1; ; attempt++) {
      const p = await plan(c, ctx, t);
      if (!p.patch) {
        log.info({ object: p.label, current: p.current, replicas: want }, `${p.label} is already ${p.current} (at least ${want}); left as is, never scaled down`);
        return { detail: `${p.label} already ${p.current} (≥ ${want}), left as is`, scaleTarget: p.scaleTarget };
      }
      try {
        await patch(c, ctx, t, p.patch, false);
      } catch (err) {
        if (!(err instanceof SwitchyardError) || err.code !== 'SWY_KUBE_CONFLICT' || attempt >= MAX_ATTEMPTS) throw err;
        log.info({ object: p.label, attempt }, `${p.label} changed while being raised (409 Conflict); reading it again`);
        continue;
      }
      log.info({ object: p.label, from: p.current, to: want }, `raised ${p.label} from ${p.current} to ${want} in cluster ${ctx.target.name}`);
      return { detail: `${p.label} ${p.current}→${want}`, scaleTarget: p.scaleTarget };
    }
  }

  async function waitAvailable(c: KubernetesClients, ctx: StepContext, names: string[], log: Logger): Promise<string> {
    const started = performance.now();
    let summary = names.map((n) => `${ns}/${n} ?/${want}`).join(', ');
    const notAvailable = () => new SwitchyardError('SWY_FAILOVER_KUBE_NOT_AVAILABLE', `deployments in cluster ${ctx.target.name} did not reach ${want} available replicas before the step ended: ${summary}`, {
      cluster: ctx.target.name, namespace: ns, replicas: want,
    });
    for (;;) {
      let available: number[];
      try {
        available = await Promise.all(names.map(async (name) => {
          const d = await call(c, ctx, `read deployment ${ns}/${name}`, () => c.apps.readNamespacedDeployment({ namespace: ns, name }, c.requestOptions(ctx.signal)));
          return d.status?.availableReplicas ?? 0;
        }));
      } catch (err) {
        if (ctx.signal.aborted) throw notAvailable();
        throw err;
      }
      const next = names.map((n, i) => `${ns}/${n} ${available[i]}/${want}`).join(', ');
      if (available.every((a) => a >= want)) {
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        log.info({ deployments: names, replicas: want }, `deployments in cluster ${ctx.target.name} have ${want} available replicas after ${seconds}s`);
        return `available ${next} after ${seconds}s`;
      }
      if (next !== summary) log.info({ deployments: names, replicas: want }, `waiting for available replicas in cluster ${ctx.target.name}: ${next}`);
      summary = next;
      try {
        await sleep(pollInterval, undefined, { signal: ctx.signal });
      } catch {
        throw notAvailable();
      }
    }
  }

  return {
    config,

    async precheck(ctx) {
      const c = clientsOf(ctx);
      const plans: string[] = [];
      for (const t of targets) {
        const p = await plan(c, ctx, t);
        await patch(c, ctx, t, p.patch ?? { spec: t.kind === 'deployment' ? { replicas: p.current } : { minReplicas: p.current } }, true);
        plans.push(p.patch ? `${p.label} ${p.current}→${want}` : `${p.label} already ${p.current}`);
      }
      return { detail: `${ctx.target.name}: ${plans.join('; ')}` };
    },

    async run(ctx) {
      const c = clientsOf(ctx);
      const log = deps.logger.child({ module: 'kubernetes-scale', step: config.name, epoch: ctx.epoch, cluster: ctx.target.name });
      const details: string[] = [];
      const waitFor = new Set(config.deployments);
      for (const t of targets) {
        const r = await raise(c, ctx, t, log);
        details.push(r.detail);
        if (r.scaleTarget !== undefined) waitFor.add(r.scaleTarget);
      }
      if (config.wait && waitFor.size > 0) details.push(await waitAvailable(c, ctx, [...waitFor], log));
      return { detail: `${ctx.target.name}: ${details.join('; ')}` };
    },
  };
}
